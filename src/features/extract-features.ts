import { createHash } from 'node:crypto';
import type { Backbone } from '../engine/backbone.js';
import type { BackboneHandle } from '../engine/open-backbone.js';
import { GraftError } from '../core/errors.js';
import { preprocessingHash } from '../core/preprocessing.js';
import { readAndDecode } from '../data/decode-stream.js';
import { mirrorTensor } from '../data/mirror-tensor.js';
import { scalesVariant } from '../engine/multi-scale-backbone.js';
import type { SkippedFile } from '../data/dataset.js';
import type { ProgressListener } from '../core/progress.js';
import { featureKey } from './cache-key.js';
import type { CacheSpace } from './cache-space.js';
import { embedBatch } from './embed-batch.js';
import type { FeatureStore } from './feature-store.js';
import { FileHashIndex, type FileStamp } from './file-hash-index.js';

export interface ExtractOptions {
  /** Images per backbone call. Defaults to 16 (ORT's rate is flat from 8 to 32 here, ARCHITECTURE.md). */
  readonly batchSize?: number;
  /** Images read and decoded at once while the backbone runs. Defaults to 4. */
  readonly concurrency?: number;
  /** Known file hashes: with it, unchanged files with cached features are not even read. */
  readonly fileIndex?: FileHashIndex;
  /**
   * Also compute the features of each image's mirror image (left-right flip of the preprocessed input), cached
   * under view 1, variant 'mirror': extra training rows for the head and the other half of test-time augmentation.
   * Defaults to false.
   */
  readonly mirror?: boolean;
  /**
   * Which files also get their four corner crops' features (and, with `mirror`, their mirror image's), for crop rows:
   * cached under views 2 and 3, variant 'corners'. Needs a multi-scale handle (`handle.loadCorners`). Defaults to none.
   */
  readonly corners?: (fileIndex: number) => boolean;
  /** With `corners` and `mirror`: also the mirror image's corners (defaults to true; false when mirror rows are off). */
  readonly mirrorCorners?: boolean;
  readonly onProgress?: ProgressListener;
  /**
   * With it, a full disk under the cache is let go (training, whose cache is a saving): the vectors are returned all
   * the same, those computed from then on are not cached, and the space says so once. Without it the failure is thrown
   * (GraftError CACHE_ERROR), as `graft embed` needs, whose output the cache is.
   */
  readonly cacheSpace?: CacheSpace;
  /**
   * Checked after every batch stored and every image read: aborting stops with GraftError `CANCELLED`. What was stored
   * stays in the cache (each batch is its own transaction), so the next run reads it instead of computing it again.
   */
  readonly signal?: AbortSignal;
}

export interface ExtractionResult {
  /** One vector per input file, in input order; undefined where the file was skipped. */
  readonly vectors: (Float32Array | undefined)[];
  /** With `mirror`, the features of each file's mirror image (same order); otherwise empty. */
  readonly mirrored: (Float32Array | undefined)[];
  /**
   * With `corners`, each chosen file's four corner crops' features side by side (4 x the first scale's width), and its
   * mirror image's (with `mirror`); undefined for other files. Otherwise empty.
   */
  readonly corners: (Float32Array | undefined)[];
  readonly mirroredCorners: (Float32Array | undefined)[];
  readonly skipped: SkippedFile[];
  /** Images the backbone ran on in this run (for some or all of their views). */
  readonly computed: number;
  /** Images served entirely from the feature store. */
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
  const preHash = preprocessingHash(info.preprocessing);
  if (options.corners && !handle.loadCorners) throw new RangeError('corner crops need a multi-scale backbone handle');
  const baseKinds: readonly Kind[] = options.mirror ? ['plain', 'mirror'] : ['plain'];
  const mirrorCorners = options.mirror === true && options.mirrorCorners !== false;
  const cornerKinds: readonly Kind[] = mirrorCorners ? ['corners', 'mirror-corners'] : ['corners'];
  const allKinds: readonly Kind[] = [...baseKinds, ...cornerKinds];
  const kindsOf = (i: number): readonly Kind[] => (options.corners?.(i) ? allKinds : baseKinds);
  const choice = info.featureChoice === undefined ? undefined : `out=${createHash('sha256').update(info.featureChoice).digest('hex').slice(0, 16)}`;
  const variants = (kind: Kind): string | undefined => [scalesVariant(info), choice, VIEWS[kind].variant].filter(Boolean).join('|') || undefined;
  // A stored vector of another length is another model's answer (one whose automatic feature choice changed): a miss.
  const lengthOf = (kind: Kind): number => (VIEWS[kind].model === 'corners' ? 2 * info.featureDim : info.featureDim);
  const keyOf = (imageSha256: string, kind: Kind): string =>
    featureKey({ imageSha256, modelSha256: info.sha256, preprocessingHash: preHash, view: VIEWS[kind].view, variant: variants(kind) });
  const column = (wanted: boolean): (Float32Array | undefined)[] => (wanted ? new Array(files.length).fill(undefined) : []);
  const results: Record<Kind, (Float32Array | undefined)[]> = {
    plain: column(true),
    mirror: column(options.mirror === true),
    corners: column(options.corners !== undefined),
    'mirror-corners': column(options.corners !== undefined && mirrorCorners),
  };
  const isDone = (i: number): boolean => kindsOf(i).every((kind) => results[kind][i] !== undefined);
  const skipped: SkippedFile[] = [];
  let cached = 0;
  let computed = 0;
  const computedFiles = new Set<number>();
  let filesDone = 0;
  let backboneSeconds = 0;
  options.onProgress?.({ type: 'extract-start', total: files.length });
  const remember = (write: () => void): void => (options.cacheSpace ? options.cacheSpace.write(write) : write());
  const stopIfAborted = (): void => {
    if (!options.signal?.aborted) return;
    const kept = cached + computed;
    throw new GraftError('CANCELLED', `Stopped after ${filesDone + skipped.length} of ${files.length} images: the features of ${kept} are in the cache ${store.path}`, {
      hint: 'run the same command again: it reads those from the cache and computes the rest',
    });
  };
  const report = (): void => {
    const elapsed = (performance.now() - started) / 1000;
    options.onProgress?.({ type: 'extract', done: filesDone + skipped.length, total: files.length, cached, computed, imgPerSec: computed / Math.max(elapsed, 1e-9) });
  };
  /**
   * Fills what the store has for these files, in one read (a query per file cost a warm run on 1 720 images ~0.1 s);
   * a file found whole is counted as cached. Returns how many still miss something.
   */
  const lookupMany = (wanted: readonly { index: number; sha256: string }[]): number => {
    const keys = wanted.map(({ index, sha256 }) => kindsOf(index).map((kind) => keyOf(sha256, kind)));
    const hits = store.getMany(keys.flat());
    let missing = 0;
    wanted.forEach(({ index }, w) => {
      kindsOf(index).forEach((kind, j) => {
        const v = hits.get(keys[w]![j]!);
        if (v?.length === lengthOf(kind) && !results[kind][index]) results[kind][index] = v;
      });
      if (isDone(index)) cached++;
      else missing++;
    });
    return missing;
  };

  // 1. Unchanged files whose vectors are stored: no reading at all.
  const stamps: (FileStamp | undefined)[] = options.fileIndex ? await FileHashIndex.stamp(files) : [];
  const known = stamps.flatMap((stamp, index) => {
    const sha256 = stamp && options.fileIndex!.lookup(stamp);
    return sha256 ? [{ index, sha256 }] : [];
  });
  filesDone += known.length - lookupMany(known);
  report();

  // 2. Everything else: read and hash; decode and embed only what the store lacks.
  const pending = files.map((_, i) => i).filter((i) => !isDone(i));
  const shas = new Map<number, string>();
  const hashed: { stamp: FileStamp; sha256: string }[] = [];
  // Two models: the features (plain and mirror views) and, for crop rows, the corner crops.
  type Item = { index: number; kind: Kind; data: Float32Array };
  const batches: Record<'features' | 'corners', Item[]> = { features: [], corners: [] };
  const backbones: { features?: Backbone; corners?: Backbone } = {};
  const flush = async (which: 'features' | 'corners'): Promise<void> => {
    const batch = batches[which];
    if (!batch.length) return;
    const backbone = (backbones[which] ??= await (which === 'features' ? handle.load() : handle.loadCorners!()));
    const { vectors, seconds } = await embedBatch(backbone, batch.map((item) => item.data), backbone.info.featureDim);
    backboneSeconds += seconds;
    const entries = batch.map((item, i) => {
      const vector = vectors[i]!;
      results[item.kind][item.index] = vector;
      return { key: keyOf(shas.get(item.index)!, item.kind), model: info.sha256, data: vector };
    });
    remember(() => store.putMany(entries));
    // A file counts once all its views are stored: one whose mirror view waits in the next batch is not kept yet.
    for (const item of batch) if (isDone(item.index)) computedFiles.add(item.index);
    computed = computedFiles.size;
    batches[which] = [];
    report();
    stopIfAborted();
  };
  const push = async (item: Item): Promise<void> => {
    const which = VIEWS[item.kind].model;
    batches[which].push(item);
    if (batches[which].length >= batchSize) await flush(which);
  };

  try {
    const stream = readAndDecode(
      pending.map((i) => files[i]!),
      info.preprocessing,
      {
        concurrency: options.concurrency,
        decode: (sha256, _file, sub) => {
          const index = pending[sub]!;
          shas.set(index, sha256);
          const stamp = stamps[index];
          if (stamp) hashed.push({ stamp, sha256 });
          return lookupMany([{ index, sha256 }]) > 0;
        },
        onSkip: ({ file, reason }) => {
          skipped.push({ file, reason });
          options.onProgress?.({ type: 'skip', file, reason });
        },
      },
    );
    for await (const item of stream) {
      stopIfAborted();
      const index = pending[item.index]!;
      filesDone++;
      if (item.data) {
        const data = item.data;
        let mirrored: Float32Array | undefined;
        for (const kind of kindsOf(index)) {
          if (results[kind][index]) continue;
          const input = VIEWS[kind].mirrored ? (mirrored ??= mirrorTensor(data, info.preprocessing)) : data;
          await push({ index, kind, data: input });
        }
      } else if (filesDone % 64 === 0) report();
    }
    await flush('features');
    await flush('corners');
    report();
  } finally {
    // The hashes read are right however the run ends: a rerun after a cancel need not read those files again.
    remember(() => options.fileIndex?.record(hashed));
    await backbones.features?.dispose();
    await backbones.corners?.dispose();
  }
  return {
    vectors: results.plain,
    mirrored: results.mirror,
    corners: results.corners,
    mirroredCorners: results['mirror-corners'],
    skipped,
    computed,
    cached,
    seconds: (performance.now() - started) / 1000,
    backboneSeconds,
  };
}

type Kind = 'plain' | 'mirror' | 'corners' | 'mirror-corners';

/** Each kind's cache view number and variant, whether it is of the mirror image, and which model computes it. */
const VIEWS: Readonly<Record<Kind, { view: number; variant?: string; mirrored: boolean; model: 'features' | 'corners' }>> = {
  plain: { view: 0, mirrored: false, model: 'features' },
  mirror: { view: 1, variant: 'mirror', mirrored: true, model: 'features' },
  corners: { view: 2, variant: 'corners', mirrored: false, model: 'corners' },
  'mirror-corners': { view: 3, variant: 'mirror|corners', mirrored: true, model: 'corners' },
};
