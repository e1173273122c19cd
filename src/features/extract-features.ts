import type { Backbone } from '../engine/backbone.js';
import type { BackboneHandle } from '../engine/open-backbone.js';
import { preprocessingHash } from '../engine/preprocessing.js';
import { readAndDecode } from '../data/decode-stream.js';
import type { SkippedFile } from '../data/dataset.js';
import type { ProgressListener } from '../progress.js';
import { featureKey } from './cache-key.js';
import type { FeatureStore } from './feature-store.js';

export interface ExtractOptions {
  /** Images per backbone call. Defaults to 16 (ORT's rate is flat from 8 to 32 here, DESIGN.md). */
  readonly batchSize?: number;
  /** Images read and decoded at once while the backbone runs. Defaults to 4. */
  readonly concurrency?: number;
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
 * in flight, overlapping the backbone) and embedded in batches, then stored. A cached file is read and hashed but
 * never decoded, and the backbone is not even loaded when everything is cached.
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
  const preHash = preprocessingHash(info.preprocessing);
  const vectors: (Float32Array | undefined)[] = new Array(files.length).fill(undefined);
  const skipped: SkippedFile[] = [];
  const keys = new Map<number, string>();
  let cached = 0;
  let computed = 0;
  let backboneSeconds = 0;
  let backbone: Backbone | undefined;
  const imageSize = info.preprocessing.inputSize ** 2 * 3;
  let batch: { index: number; data: Float32Array }[] = [];
  options.onProgress?.({ type: 'extract-start', total: files.length });

  const report = (): void => {
    const elapsed = (performance.now() - started) / 1000;
    options.onProgress?.({ type: 'extract', done: cached + computed + skipped.length, total: files.length, cached, computed, imgPerSec: computed / Math.max(elapsed, 1e-9) });
  };
  const flush = async (): Promise<void> => {
    if (!batch.length) return;
    backbone ??= await handle.load();
    const input = new Float32Array(batch.length * imageSize);
    batch.forEach((item, i) => input.set(item.data, i * imageSize));
    const t0 = performance.now();
    const out = await backbone.embed(input, batch.length);
    backboneSeconds += (performance.now() - t0) / 1000;
    const dim = info.featureDim;
    const entries = batch.map((item, i) => {
      const vector = out.slice(i * dim, (i + 1) * dim);
      vectors[item.index] = vector;
      return { key: keys.get(item.index)!, model: info.sha256, data: vector };
    });
    store.putMany(entries);
    computed += batch.length;
    batch = [];
    report();
  };

  try {
    const stream = readAndDecode(files, info.preprocessing, {
      concurrency: options.concurrency,
      decode: (sha256, _file, index) => {
        const key = featureKey({ imageSha256: sha256, modelSha256: info.sha256, preprocessingHash: preHash });
        keys.set(index, key);
        const hit = store.getMany([key]).get(key);
        if (hit) vectors[index] = hit;
        return !hit;
      },
      onSkip: ({ file, reason }) => {
        skipped.push({ file, reason });
        options.onProgress?.({ type: 'skip', file, reason });
      },
    });
    for await (const item of stream) {
      if (item.data) {
        batch.push({ index: item.index, data: item.data });
        if (batch.length >= batchSize) await flush();
      } else {
        cached++;
        if (cached % 64 === 0) report();
      }
    }
    await flush();
    report();
  } finally {
    await backbone?.dispose();
  }
  return { vectors, skipped, computed, cached, seconds: (performance.now() - started) / 1000, backboneSeconds };
}
