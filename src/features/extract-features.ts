import type { Backbone } from '../engine/backbone.js';
import type { BackboneHandle } from '../engine/open-backbone.js';
import { preprocessingHash } from '../engine/preprocessing.js';
import { readAndDecode } from '../data/decode-stream.js';
import type { SkippedFile } from '../data/dataset.js';
import type { ProgressListener } from '../progress.js';
import { featureKey } from './cache-key.js';
import type { FeatureStore } from './feature-store.js';
import { FileHashIndex, type FileStamp } from './file-hash-index.js';

export interface ExtractOptions {
  /** Images per backbone call. Defaults to 16 (ORT's rate is flat from 8 to 32 here, DESIGN.md). */
  readonly batchSize?: number;
  /** Images read and decoded at once while the backbone runs. Defaults to 4. */
  readonly concurrency?: number;
  /** Known file hashes: with it, unchanged files with cached features are not even read. */
  readonly fileIndex?: FileHashIndex;
  readonly onProgress?: ProgressListener;
}

export interface ExtractionResult {
  /** One vector per input file, in input order; undefined where the file was skipped. */
  readonly vectors: (Float32Array | undefined)[];
  readonly skipped: SkippedFile[];
  /** Vectors computed by the backbone in this run. */
  readonly computed: number;
  /** Vectors served from the feature store. */
  readonly cached: number;
  readonly seconds: number;
  /** Seconds spent in backbone calls (0 on a fully cached run). */
  readonly backboneSeconds: number;
}

/**
 * Feature vectors for `files` under a backbone: from the store where present, otherwise read, decoded (several
 * in flight, overlapping the backbone) and embedded in batches, then stored.
 *
 * Three levels of work, cheapest first: a file whose stamp is in the file index and whose vector is stored is not
 * read at all; a file read and hashed whose vector is stored is not decoded; only the rest are decoded and run
 * through the backbone, which is not even loaded when nothing needs it.
 * Unreadable files are reported (onProgress `skip`) and returned in `skipped`, never thrown.
 */
export async function extractFeatures(
  files: readonly string[],
  handle: BackboneHandle,
  store: FeatureStore,
  options: ExtractOptions = {},
): Promise<ExtractionResult> {
  const started = performance.now();
  const batchSize = options.batchSize ?? 16;
  const { info } = handle;
  const keyOf = (imageSha256: string): string => featureKey({ imageSha256, modelSha256: info.sha256, preprocessingHash: preprocessingHash(info.preprocessing) });
  const vectors: (Float32Array | undefined)[] = new Array(files.length).fill(undefined);
  const skipped: SkippedFile[] = [];
  let cached = 0;
  let computed = 0;
  let backboneSeconds = 0;
  options.onProgress?.({ type: 'extract-start', total: files.length });
  const report = (): void => {
    const elapsed = (performance.now() - started) / 1000;
    options.onProgress?.({ type: 'extract', done: cached + computed + skipped.length, total: files.length, cached, computed, imgPerSec: computed / Math.max(elapsed, 1e-9) });
  };

  // 1. Unchanged files whose vectors are stored: no reading at all.
  const stamps: (FileStamp | undefined)[] = options.fileIndex ? await FileHashIndex.stamp(files) : [];
  const known = new Map<number, string>();
  stamps.forEach((stamp, i) => {
    const sha = stamp && options.fileIndex!.lookup(stamp);
    if (sha) known.set(i, keyOf(sha));
  });
  const hits = store.getMany([...known.values()]);
  for (const [i, key] of known) {
    const v = hits.get(key);
    if (v) {
      vectors[i] = v;
      cached++;
    }
  }
  report();

  // 2. Everything else: read and hash; decode and embed only what the store lacks.
  const pending = files.map((_, i) => i).filter((i) => !vectors[i]);
  const keys = new Map<number, string>();
  const hashed: { stamp: FileStamp; sha256: string }[] = [];
  const imageSize = info.preprocessing.inputSize ** 2 * 3;
  let batch: { index: number; data: Float32Array }[] = [];
  let backbone: Backbone | undefined;
  const flush = async (): Promise<void> => {
    if (!batch.length) return;
    backbone ??= await handle.load();
    const input = new Float32Array(batch.length * imageSize);
    batch.forEach((item, i) => input.set(item.data, i * imageSize));
    const t0 = performance.now();
    const out = await backbone.embed(input, batch.length);
    backboneSeconds += (performance.now() - t0) / 1000;
    const dim = info.featureDim;
    store.putMany(
      batch.map((item, i) => {
        const vector = out.slice(i * dim, (i + 1) * dim);
        vectors[item.index] = vector;
        return { key: keys.get(item.index)!, model: info.sha256, data: vector };
      }),
    );
    computed += batch.length;
    batch = [];
    report();
  };

  try {
    const stream = readAndDecode(
      pending.map((i) => files[i]!),
      info.preprocessing,
      {
        concurrency: options.concurrency,
        decode: (sha256, _file, sub) => {
          const index = pending[sub]!;
          const key = keyOf(sha256);
          keys.set(index, key);
          const stamp = stamps[index];
          if (stamp) hashed.push({ stamp, sha256 });
          const hit = store.getMany([key]).get(key);
          if (hit) vectors[index] = hit;
          return !hit;
        },
        onSkip: ({ file, reason }) => {
          skipped.push({ file, reason });
          options.onProgress?.({ type: 'skip', file, reason });
        },
      },
    );
    for await (const item of stream) {
      if (item.data) {
        batch.push({ index: pending[item.index]!, data: item.data });
        if (batch.length >= batchSize) await flush();
      } else {
        cached++;
        if (cached % 64 === 0) report();
      }
    }
    await flush();
    options.fileIndex?.record(hashed);
    report();
  } finally {
    await backbone?.dispose();
  }
  return { vectors, skipped, computed, cached, seconds: (performance.now() - started) / 1000, backboneSeconds };
}
