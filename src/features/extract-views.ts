import * as ort from 'onnxruntime-node';
import { augmentHash, decodeViews, DEFAULT_AUGMENT, viewParams, type AugmentConfig } from '../data/augment.js';
import type { SkippedFile } from '../data/dataset.js';
import { readAndDecode } from '../data/decode-stream.js';
import { batchDims, createSession, type OrtSession } from '../runtime/ort-session.js';
import { preprocessingHash, type Preprocessing } from '../core/preprocessing.js';
import { GraftError } from '../core/errors.js';
import type { ProgressListener } from '../core/progress.js';
import { featureKey } from './cache-key.js';
import type { FeatureEntry, FeatureStore } from './feature-store.js';
import { storedValues, type FeatureDtype } from './vector-encoding.js';
import { FileHashIndex, type FileStamp } from './file-hash-index.js';

/** The frozen part of a backbone: an ONNX model from the image input to the cut. */
export interface CutPrefix {
  /** The ONNX model's bytes. Its first input takes the preprocessed image batch. */
  readonly bytes: Uint8Array;
  /** The output at the cut (e.g. 'graft_cut'): float32, any shape [N, ...]. */
  readonly output: string;
  /**
   * sha256 (hex) identifying this prefix *and* its output: the model part of every cache key. Two prefixes that can
   * produce different activations must have different hashes.
   */
  readonly sha256: string;
}

/** Options for {@link extractViews}. */
export interface ExtractViewsOptions {
  /** K: augmented views per image (views 1..K), on top of view 0, the plain image. 0 computes only view 0. */
  readonly views: number;
  /** Seeds every view's random choices (with the image's content hash and the view number); part of the cache key. */
  readonly seed: number;
  /** What a view may be. Defaults to {@link DEFAULT_AUGMENT}; its {@link augmentHash} is part of the cache key. */
  readonly augment?: AugmentConfig;
  /**
   * How activations are stored. Defaults to 'f16': half the disk of 'f32', and the values returned are the stored
   * ones either way, so a first run and a cached run return the same numbers (relative error <= 2^-11, ~5e-4).
   */
  readonly dtype?: FeatureDtype;
  /** Skip view 0 for files that get augmented views (their lists then start at view 1). Defaults to false. */
  readonly augmentedOnly?: boolean;
  /**
   * How many views file `fileIndex` needs, view 0 included: views 0..n-1. Defaults to `views + 1` for every file.
   * Return 1 for validation images (plain view only). Must be an integer in [1, views + 1].
   */
  readonly viewsFor?: (fileIndex: number) => number;
  /** Known file hashes: with it, unchanged files whose views are all stored are not even read. */
  readonly fileIndex?: FileHashIndex;
  /** Views per prefix call. Defaults to 16 (ORT's rate is flat from 8 to 32 here, ARCHITECTURE.md). */
  readonly batchSize?: number;
  /** Files read and decoded at once (each decodes all its missing views) while the prefix runs. Defaults to 4. */
  readonly concurrency?: number;
  /**
   * Keep every view's values in the result (the default). False only makes sure every view is in the store and returns
   * its keys (`keys`), holding no values: for sets whose activations do not fit in memory, read back a batch at a time.
   */
  readonly keep?: boolean;
  /** `extract-start`, `extract` and `skip` events as extractFeatures emits them, except that `cached`, `computed`
   * and `imgPerSec` count views (`done` and `total` count files). */
  readonly onProgress?: ProgressListener;
}

/** What {@link extractViews} returns. */
export interface ViewExtractionResult {
  /**
   * Per input file (in input order), its views' activations in the order of `viewNumbers[i]`; undefined for a
   * skipped file. Without `augmentedOnly`, `activations[i][v]` is view v. Each is a fresh Float32Array of
   * `shape`'s product: with a 7 x 7 x 160 cut that is 7840 floats (31 KiB) per view, so 1000 images x 4 views hold
   * ~125 MB; the cache on disk holds half that in f16.
   */
  readonly activations: (Float32Array[] | undefined)[];
  /**
   * Per input file, the feature-store keys of its views (same order as `viewNumbers[i]`); undefined for a skipped
   * file. With `keep: false` this is how the views are read: `store.getMany(keys[i])`.
   */
  readonly keys: (readonly string[] | undefined)[];
  /** The view numbers of each file's activations (e.g. [0, 1, 2, 3], or [0] for a validation file). */
  readonly viewNumbers: (readonly number[])[];
  /** Activation shape of one view, without the batch dim (e.g. [160, 7, 7]). [] when no file gave any activation. */
  readonly shape: number[];
  /** Views computed by the prefix in this run. */
  readonly computed: number;
  /** Views served from the feature store. */
  readonly cached: number;
  readonly skipped: SkippedFile[];
  readonly seconds: number;
  /** Seconds spent in prefix calls (0 on a fully cached run). */
  readonly prefixSeconds: number;
}

/**
 * Activations at the cut for K augmented views (and the plain view) of every image: the precomputation that lets
 * fine-tuning augment without running the frozen prefix each epoch (ARCHITECTURE.md decision 2). Each epoch then picks
 * one of an image's views.
 *
 * Works like extractFeatures, per view: a view whose activations are stored is not recomputed; a file whose views
 * are all stored and whose stamp is in the file index is not even read; the others are read once, their missing
 * views decoded together ({@link decodeViews}: one pixel decode for all augmented views of a typical photo), and run
 * through the prefix in batches, several files decoding while the prefix runs. The prefix session is created only
 * when something must be computed (or, on a fully cached run, to read the cut's shape from the model).
 *
 * Cache key of view v: featureKey({ imageSha256, modelSha256: prefix.sha256, preprocessingHash(pre), view: v,
 * variant: v > 0 ? `${augmentHash(augment)}-${seed}` : undefined }), so view 0 is shared by every augmentation
 * setting, and augmented views never mix across configs or seeds.
 *
 * Unreadable files are reported (onProgress `skip`) and returned in `skipped`, never thrown.
 *
 * @throws RangeError for a bad `views`, `seed`, `batchSize` or `viewsFor` result; GraftError `INVALID_CONFIG` for a bad
 *   augmentation, `UNSUPPORTED_MODEL` when the prefix cannot run or lacks the output, `CACHE_ERROR` when stored
 *   activations do not match the prefix's output size.
 * @example
 * const { activations, shape } = await extractViews(trainFiles, prefix, pre, store, { views: 3, seed: 42 });
 */
export async function extractViews(
  files: readonly string[],
  prefix: CutPrefix,
  pre: Preprocessing,
  store: FeatureStore,
  options: ExtractViewsOptions,
): Promise<ViewExtractionResult> {
  const started = performance.now();
  const { views, seed, dtype = 'f16', batchSize = 16, augmentedOnly = false, keep = true } = options;
  const augment = options.augment ?? DEFAULT_AUGMENT;
  if (!Number.isSafeInteger(views) || views < 0) throw new RangeError(`views must be an integer >= 0. Received: ${views}`);
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be an integer. Received: ${seed}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer. Received: ${batchSize}`);
  const variant = `${augmentHash(augment)}-${seed}`;
  const preHash = preprocessingHash(pre);
  const keyOf = (imageSha256: string, view: number): string =>
    featureKey({ imageSha256, modelSha256: prefix.sha256, preprocessingHash: preHash, view, variant: view > 0 ? variant : undefined });
  const viewNumbers = files.map((_, i) => viewList(i, views, augmentedOnly, options.viewsFor));

  const activations: (Float32Array[] | undefined)[] = new Array(files.length).fill(undefined);
  const keysOf: (readonly string[] | undefined)[] = new Array(files.length).fill(undefined);
  // Without `keep`, a view is marked present by this one empty array instead of holding its values.
  const PRESENT = new Float32Array(0);
  const held = (values: Float32Array): Float32Array => (keep ? values : PRESENT);
  const skipped: SkippedFile[] = [];
  let cached = 0;
  let computed = 0;
  let done = 0;
  let prefixSeconds = 0;
  options.onProgress?.({ type: 'extract-start', total: files.length });
  const report = (): void => {
    const elapsed = (performance.now() - started) / 1000;
    options.onProgress?.({ type: 'extract', done, total: files.length, cached, computed, imgPerSec: computed / Math.max(elapsed, 1e-9) });
  };

  // 1. Unchanged files whose views are all stored: no reading at all.
  const stamps: (FileStamp | undefined)[] = options.fileIndex ? await FileHashIndex.stamp(files) : [];
  const knownKeys = new Map<number, string[]>();
  stamps.forEach((stamp, i) => {
    const sha = stamp && options.fileIndex!.lookup(stamp);
    if (sha) knownKeys.set(i, viewNumbers[i]!.map((v) => keyOf(sha, v)));
  });
  // In chunks of files: all at once would hold every stored view in memory, which `keep: false` must not.
  const known = [...knownKeys];
  for (let start = 0; start < known.length; start += KNOWN_CHUNK) {
    const chunk = known.slice(start, start + KNOWN_CHUNK);
    const hits = store.getMany(chunk.flatMap(([, keys]) => keys));
    for (const [i, keys] of chunk) {
      const found = keys.map((key) => hits.get(key));
      if (found.every((v): v is Float32Array => v !== undefined)) {
        activations[i] = found.map(held);
        keysOf[i] = keys;
        cached += found.length;
        done++;
      }
    }
  }
  report();

  // 2. Everything else: read and hash; decode and run only the views the store lacks.
  const pending = files.map((_, i) => i).filter((i) => !activations[i]);
  /** Per file in flight (by position in `pending`): its views' slots and which of them are missing. */
  interface FileWork {
    readonly index: number;
    readonly sha256: string;
    readonly keys: string[];
    readonly slots: (Float32Array | undefined)[];
    readonly missing: number[];
    remaining: number;
  }
  const work = new Map<number, FileWork>();
  const hashed: { stamp: FileStamp; sha256: string }[] = [];
  const imageSize = pre.inputSize ** 2 * 3;
  let batch: { file: FileWork; slot: number; data: Float32Array }[] = [];
  let session: OrtSession | undefined;
  let shape: number[] | undefined;

  const finish = (file: FileWork): void => {
    activations[file.index] = file.slots as Float32Array[];
    keysOf[file.index] = file.keys;
    done++;
  };
  const flush = async (): Promise<void> => {
    if (!batch.length) return;
    session ??= await createSession(prefix.bytes, { source: 'the cut prefix' });
    const input = new Float32Array(batch.length * imageSize);
    batch.forEach((item, i) => input.set(item.data, i * imageSize));
    const t0 = performance.now();
    const out = await runCut(session, input, batch.length, prefix.output, pre);
    prefixSeconds += (performance.now() - t0) / 1000;
    shape ??= out.dims.slice(1);
    const size = out.data.length / batch.length;
    const entries: FeatureEntry[] = batch.map((item, i) => {
      const data = out.data.slice(i * size, (i + 1) * size);
      item.file.slots[item.slot] = held(storedValues(data, dtype));
      return { key: item.file.keys[item.slot]!, model: prefix.sha256, data, dtype };
    });
    store.putMany(entries);
    computed += batch.length;
    for (const item of batch) if (--item.file.remaining === 0) finish(item.file);
    batch = [];
    report();
  };

  try {
    const stream = readAndDecode(
      pending.map((i) => files[i]!),
      pre,
      {
        concurrency: options.concurrency,
        decode: (sha256, _file, sub) => {
          const index = pending[sub]!;
          const keys = viewNumbers[index]!.map((v) => keyOf(sha256, v));
          const hits = store.getMany(keys);
          const slots = keys.map((key) => {
            const values = hits.get(key);
            return values && held(values);
          });
          const missing = slots.flatMap((slot, j) => (slot ? [] : [j]));
          work.set(sub, { index, sha256, keys, slots, missing, remaining: missing.length });
          const stamp = stamps[index];
          if (stamp) hashed.push({ stamp, sha256 });
          return missing.length > 0;
        },
        decodeBytes: async (bytes, { file, index: sub, sha256 }) => {
          const { missing } = work.get(sub)!;
          const numbers = viewNumbers[pending[sub]!]!;
          const tensors = await decodeViews(
            bytes,
            pre,
            missing.map((j) => viewParams(sha256, numbers[j]!, seed, augment)),
            { name: file },
          );
          const all = new Float32Array(tensors.length * imageSize);
          tensors.forEach((t, k) => all.set(t, k * imageSize));
          return all;
        },
        onSkip: ({ index: sub, file, reason }) => {
          work.delete(sub);
          skipped.push({ file, reason });
          done++;
          options.onProgress?.({ type: 'skip', file, reason });
        },
      },
    );
    for await (const item of stream) {
      const file = work.get(item.index)!;
      work.delete(item.index);
      cached += file.slots.length - file.missing.length;
      if (!item.data) {
        finish(file);
        if (done % 64 === 0) report();
        continue;
      }
      for (const [k, slot] of file.missing.entries()) {
        batch.push({ file, slot, data: item.data.subarray(k * imageSize, (k + 1) * imageSize) });
        if (batch.length >= batchSize) await flush();
      }
    }
    await flush();
    options.fileIndex?.record(hashed);
    // A fully cached run learns the cut's shape from the model, without running any image.
    if (!shape && activations.some((a) => a !== undefined)) {
      session ??= await createSession(prefix.bytes, { source: 'the cut prefix' });
      shape = await cutShape(session, prefix.output, pre);
    }
    report();
  } finally {
    await session?.release();
  }
  const resolvedShape = shape ?? [];
  if (keep) checkSizes(activations, resolvedShape, prefix);
  else {
    // One stored view stands for the rest: a prefix hash that does not identify its output shows on any of them.
    const first = keysOf.find((k) => k !== undefined)?.[0];
    const sample = first === undefined ? undefined : store.getMany([first]).get(first);
    if (sample) checkSizes([[sample]], resolvedShape, prefix);
  }
  return {
    activations: keep ? activations : activations.map(() => undefined),
    keys: keysOf,
    viewNumbers,
    shape: resolvedShape,
    computed,
    cached,
    skipped,
    seconds: (performance.now() - started) / 1000,
    prefixSeconds,
  };
}

/** Files whose stored views are looked up together on the fast path (bounds memory when values are not kept). */
const KNOWN_CHUNK = 256;

/** The view numbers file `index` needs. */
function viewList(index: number, views: number, augmentedOnly: boolean, viewsFor: ExtractViewsOptions['viewsFor']): number[] {
  const count = viewsFor ? viewsFor(index) : views + 1;
  if (!Number.isInteger(count) || count < 1 || count > views + 1) {
    throw new RangeError(`viewsFor(${index}) must be an integer from 1 (plain view only) to views + 1 = ${views + 1}. Received: ${count}`);
  }
  const first = augmentedOnly && count > 1 ? 1 : 0;
  return Array.from({ length: count - first }, (_, k) => first + k);
}

/** Runs one batch through the prefix; returns the cut's values and dims (batch first), copied out of ORT. */
async function runCut(
  session: OrtSession,
  input: Float32Array,
  count: number,
  output: string,
  pre: Preprocessing,
): Promise<{ data: Float32Array; dims: number[] }> {
  if (!session.outputNames.includes(output)) {
    throw new GraftError('UNSUPPORTED_MODEL', `The cut prefix has no output "${output}". Its outputs: ${session.outputNames.join(', ')}.`, {
      hint: 'pass the name of the tensor at the cut (the split names it graft_cut)',
    });
  }
  const dims = batchDims(session, input, count, { inputSize: pre.inputSize, layout: pre.layout });
  const results = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', input, dims) }, [output]);
  try {
    const tensor = results[output];
    if (!tensor || tensor.type !== 'float32') {
      throw new GraftError('UNSUPPORTED_MODEL', `The cut prefix's output "${output}" is ${tensor?.type ?? 'missing'}, expected float32.`);
    }
    if (tensor.dims[0] !== count) {
      throw new GraftError('UNSUPPORTED_MODEL', `The cut prefix's output "${output}" has dims [${tensor.dims.join(', ')}]; expected the batch (${count}) first.`);
    }
    // Copy: the result aliases memory onnxruntime may reuse on the next run.
    return { data: new Float32Array(tensor.data as Float32Array), dims: [...tensor.dims] };
  } finally {
    for (const value of Object.values(results)) value.dispose();
  }
}

/** The cut's per-image shape: from the model's declared output shape when fixed, else by running one blank image. */
async function cutShape(session: OrtSession, output: string, pre: Preprocessing): Promise<number[]> {
  const meta = session.outputMetadata.find((m) => m.name === output);
  const declared = meta && meta.isTensor ? meta.shape.slice(1) : undefined;
  if (declared && declared.length > 0 && declared.every((d): d is number => typeof d === 'number' && d > 0)) return declared;
  const blank = new Float32Array(pre.inputSize ** 2 * 3);
  return (await runCut(session, blank, 1, output, pre)).dims.slice(1);
}

function checkSizes(activations: readonly (Float32Array[] | undefined)[], shape: readonly number[], prefix: CutPrefix): void {
  const size = shape.reduce((a, b) => a * b, 1);
  for (const list of activations) {
    for (const values of list ?? []) {
      if (values.length !== size) {
        throw new GraftError(
          'CACHE_ERROR',
          `Cached activations for prefix ${prefix.sha256.slice(0, 12)} hold ${values.length} values, but its output "${prefix.output}" ` +
            `has shape [${shape.join(', ')}] (${size} values).`,
          { hint: 'the prefix hash must identify both the model and its cut output; clear the feature cache or fix the hash' },
        );
      }
    }
  }
}
