import { createHash } from 'node:crypto';
import { inTfjsTrainingTurn } from './tfjs-training-turn.js';
import * as ort from 'onnxruntime-node';
import type { SkippedFile } from '../data/dataset.js';
import { decodeImage } from '../data/decode-image.js';
import type { BackboneHandle } from '../engine/open-backbone.js';
import { createSession } from '../runtime/ort-session.js';
import { ensureTfjsBackend, warnOnFallback } from '../runtime/tfjs-backend.js';
import { registerWasmGradKernels } from '../engine/wasm-grad-kernels/index.js';
import { GraftError } from '../core/errors.js';
import { optionExample, optionName } from '../core/option-name.js';
import { extractViews } from '../features/extract-views.js';
import { FeatureStore } from '../features/feature-store.js';
import { FileHashIndex } from '../features/file-hash-index.js';
import { resolveUnfreeze, type ResolvedCut } from '../onnx/cut-points.js';
import { parseUnfreeze } from '../onnx/unfreeze-spec.js';
import { exportFineTunedOnnx } from '../onnx-to-tfjs/export-fine-tuned.js';
import type { ModelProto } from '../onnx/onnx-model.js';
import { buildPrefixModel } from '../onnx/prefix-model.js';
import { importOnnxToTfjs, type OnnxTfjsGraph } from '../onnx-to-tfjs/index.js';
import type { ProgressListener } from '../core/progress.js';
import type { DenseLayerWeights } from '../core/dense-layer.js';
import type { FineTuneConfig } from './fine-tune-config.js';
import type { FineTuneSummary } from './fine-tune-summary.js';
import { fineTuneLoop, predictCut, type CutActivations, type TrainableSuffix } from './fine-tune-loop.js';
import { cutActivationsInMemory } from './fine-tune-step.js';
import { roundSeconds } from '../core/round-seconds.js';

export type { FineTuneSummary } from './fine-tune-summary.js';

export interface FineTunePhaseInput {
  readonly handle: BackboneHandle;
  /** The backbone's ONNX graph (`handle.onnxBytes()`, decoded): it is cut, imported and exported, never modified. */
  readonly model: ModelProto;
  readonly cacheDir: string;
  /** Training files, with their class indices. */
  readonly train: ImageSet;
  /** Held-out training images that choose the epoch (epoch 0, the head alone, included); empty: keep the last epoch. */
  readonly holdout: ImageSet;
  /** Validation images: scored with the kept weights, never used to choose. */
  readonly val: ImageSet;
  /** Stop after this epoch of the `config.epochs` schedule (refitting to an epoch chosen on a holdout). */
  readonly stopAfterEpoch?: number;
  readonly numClasses: number;
  readonly head: readonly DenseLayerWeights[];
  readonly headDropout: number;
  readonly config: FineTuneConfig;
  readonly seed: number;
  readonly checkpoint: { readonly path: string; readonly fingerprint: string; readonly resume: boolean; readonly extra: Record<string, unknown> };
  /** Large matrix products in onnxruntime's native GEMM (registerWasmGradKernels' `nativeGemm`). Default true. */
  readonly nativeGemm?: boolean;
  readonly onProgress?: ProgressListener;
  /** Checked before every fine-tuning batch: aborting stops with GraftError CANCELLED. */
  readonly signal?: AbortSignal;
}

/** Files and their class indices. */
export interface ImageSet {
  readonly files: readonly string[];
  readonly labels: Int32Array;
}

export interface FineTunePhaseResult {
  readonly summary: FineTuneSummary;
  readonly head: DenseLayerWeights[];
  /** The whole fine-tuned classifier as one ONNX file: frozen prefix, trained suffix, head. */
  readonly onnxBytes: Uint8Array;
  /** Validation probabilities of the kept weights (row per val file that was readable) and the files they belong to. */
  readonly val: { readonly probabilities: Float32Array; readonly labels: Int32Array; readonly files: string[] } | null;
  /** The same for the held-out images that chose the epoch (null without a holdout). */
  readonly holdout: { readonly probabilities: Float32Array; readonly labels: Int32Array; readonly files: string[] } | null;
  /** The starting head's loss on those held-out images (epoch 0, as the history's val_loss), which an epoch must beat. */
  readonly initialHoldoutLoss: number | null;
  readonly skipped: SkippedFile[];
}

/**
 * Fine-tuning after the head phase (ARCHITECTURE.md decision 2: split at the freeze point). The backbone's ONNX graph is cut
 * where `--unfreeze` says; the frozen prefix runs once per image (and per augmented view) in onnxruntime and
 * its activations are cached; the suffix is imported into tfjs and trained with the head on those activations
 * every epoch; the result is exported as one ONNX file and checked against the training graph.
 */
export async function fineTunePhase(input: FineTunePhaseInput): Promise<FineTunePhaseResult> {
  return inTfjsTrainingTurn(async () => {
    // Convolution gradients the wasm backend lacks (ARCHITECTURE.md decision 2), and large products in onnxruntime's native GEMM
    // (2.3x on MobileNetV2's top blocks, bench/RESULTS.md); a fast path that cannot load is a `warning` event.
    const kernels = registerWasmGradKernels({ nativeGemm: input.nativeGemm ?? true, ...(input.onProgress === undefined ? {} : { onProgress: input.onProgress }) });
    try {
      return await fineTuneInTurn(input);
    } finally {
      // For this run only: later tfjs work in the process (an MLP head) runs as in a fresh one, and the run's
      // listener (with all it holds) is let go.
      kernels.configure({ nativeGemm: false, onProgress: () => undefined });
    }
  });
}

async function fineTuneInTurn(input: FineTunePhaseInput): Promise<FineTunePhaseResult> {
  const { handle, model, config, onProgress } = input;
  await ensureTfjsBackend(warnOnFallback(onProgress));
  const featureOutput = handle.onnxFeatureOutput;
  const cut = resolveUnfreeze(model, featureOutput, parseUnfreeze(config.unfreeze));
  onProgress?.({ type: 'info', message: `fine-tuning ${cut.description}` });

  const started = performance.now();
  const activations = await cutActivations(input, model, cut);
  const activationsSeconds = (performance.now() - started) / 1000;
  try {
    return await trainOnActivations(input, cut, activations, activationsSeconds);
  } finally {
    activations.store.close();
  }
}

/** The suffix and head trained on the cut activations (read from the open feature cache), exported and checked. */
async function trainOnActivations(input: FineTunePhaseInput, cut: ResolvedCut, activations: CutActivationSets, activationsSeconds: number): Promise<FineTunePhaseResult> {
  const { train, holdout, val, skipped, shape, computed, cached, prefix } = activations;
  const { handle, model, config, onProgress } = input;
  const featureOutput = handle.onnxFeatureOutput;

  const graph = importOnnxToTfjs(model, { source: handle.info.source, input: cut.tensor, outputs: [featureOutput] });
  const suffix = { ...bind(graph), stateVariables: () => [...graph.variables.values()].filter((v) => !v.trainable) };
  if (config.batchNorm === 'train' && !model.graph?.node?.some((n, i) => n.opType === 'BatchNormalization' && i > cut.nodeIndex)) {
    onProgress?.({ type: 'info', message: `no BatchNormalization after the cut (an int8 model folds it into its convolutions): ${optionExample('fineTune.batchNorm', 'train', '')} changes nothing` });
  }
  try {
    const trainStarted = performance.now();
    const loop = await fineTuneLoop({
      suffix,
      head: input.head,
      headDropout: input.headDropout,
      train,
      val: holdout.labels.length ? holdout : undefined,
      stopAfterEpoch: input.stopAfterEpoch,
      numClasses: input.numClasses,
      config,
      seed: input.seed,
      onProgress,
      signal: input.signal,
      checkpoint: input.checkpoint,
    });
    const trainSeconds = (performance.now() - trainStarted) / 1000;

    const exportStarted = performance.now();
    const onnxBytes = exportFineTunedOnnx({ model, cut, featureOutput, variables: graph.variables, head: loop.head });
    const exportCheck = await checkExport(onnxBytes, prefix, handle, suffix, loop.head, { files: train.files, set: train });
    const exportSeconds = (performance.now() - exportStarted) / 1000;
    const valProbabilities = val.labels.length ? predictCut(suffix, loop.head, val) : undefined;
    const holdoutProbabilities = holdout.labels.length ? predictCut(suffix, loop.head, holdout) : undefined;
    return {
      summary: {
        config,
        cut: { tensor: cut.tensor, description: cut.description },
        history: loop.history,
        bestEpoch: loop.bestEpoch,
        stoppedEarly: loop.stoppedEarly,
        resumedAfter: loop.resumedAfter,
        timings: { activations_s: roundSeconds(activationsSeconds), train_s: roundSeconds(trainSeconds), export_s: roundSeconds(exportSeconds) },
        activations: { computed, cached, shape },
        trainImgPerSec: Math.round(loop.trainImgPerSec * 10) / 10,
        exportCheck,
      },
      head: loop.head,
      onnxBytes,
      val: valProbabilities ? { probabilities: valProbabilities, labels: val.labels, files: [...val.files] } : null,
      holdout: holdoutProbabilities ? { probabilities: holdoutProbabilities, labels: holdout.labels, files: [...holdout.files] } : null,
      initialHoldoutLoss: loop.initialValLoss,
      skipped,
    };
  } finally {
    graph.dispose();
  }
}

/** The graph's methods as a TrainableSuffix (bound, so they can be spread into another object). */
function bind(graph: OnnxTfjsGraph): TrainableSuffix {
  return { predict: (x, options) => graph.predict(x, options), trainableVariables: () => graph.trainableVariables() };
}

type CutSet = CutActivations & { readonly files: string[] };

/** The cut activations of the training, held-out and validation images, and the open cache they are read from. */
interface CutActivationSets {
  readonly train: CutSet;
  readonly holdout: CutSet;
  readonly val: CutSet;
  readonly skipped: SkippedFile[];
  readonly shape: number[];
  readonly computed: number;
  readonly cached: number;
  readonly prefix: { bytes: Uint8Array; output: string };
  /** Open until training is done (the caller closes it). */
  readonly store: FeatureStore;
}

/** Runs (or reads from the cache) the frozen prefix for every training view and every holdout and validation image. */
async function cutActivations(
  input: FineTunePhaseInput,
  model: ModelProto,
  cut: ResolvedCut,
): Promise<CutActivationSets> {
  const prefix = buildPrefixModel(model, cut);
  const sha256 = createHash('sha256').update(prefix.bytes).digest('hex');
  const files = [...input.train.files, ...input.holdout.files, ...input.val.files];
  const trainCount = input.train.files.length;
  const holdoutEnd = trainCount + input.holdout.files.length;
  // The store stays open while training reads each batch's views from it (the caller closes it): the activations of
  // every view of every image are never held in memory at once (100k images x 3 views of MobileNetV2's default cut,
  // 7x7x160 floats: 9 GB).
  const store = FeatureStore.open(input.cacheDir);
  const fileIndex = FileHashIndex.open(input.cacheDir);
  let result;
  try {
    result = await extractViews(files, { bytes: prefix.bytes, output: prefix.output, sha256 }, input.handle.info.preprocessing, store, {
      views: input.config.views,
      seed: input.seed,
      fileIndex,
      keep: false,
      onProgress: input.onProgress,
      viewsFor: (i: number) => (i < trainCount ? input.config.views + 1 : 1),
    });
  } catch (error) {
    store.close();
    throw error;
  } finally {
    fileIndex.close();
  }
  const pick = (from: number, to: number, labels: Int32Array): CutSet => {
    const keys: (readonly string[])[] = [];
    const kept: number[] = [];
    const keptFiles: string[] = [];
    for (let i = from; i < to; i++) {
      const k = result.keys[i];
      if (!k) continue;
      keys.push(k);
      kept.push(labels[i - from]!);
      keptFiles.push(files[i]!);
    }
    return { ...cachedCutActivations(store, result.shape, keys, Int32Array.from(kept), keptFiles), files: keptFiles };
  };
  return {
    store,
    train: pick(0, trainCount, input.train.labels),
    holdout: pick(trainCount, holdoutEnd, input.holdout.labels),
    val: pick(holdoutEnd, files.length, input.val.labels),
    skipped: result.skipped,
    shape: result.shape,
    computed: result.computed,
    cached: result.cached,
    prefix,
  };
}

const CHECK_IMAGES = 8;
/** Largest probability difference accepted between the exported ONNX and the graph that was trained. */
const EXPORT_TOLERANCE = 1e-4;

/**
 * Runs the exported ONNX on a few real images in onnxruntime and compares its probabilities with the trained
 * tfjs graph's on the same images (prefix in onnxruntime at float32, suffix and head in tfjs): an export that
 * disagrees is never written. The cached activations are not used here: they are float16.
 */
async function checkExport(
  onnxBytes: Uint8Array,
  prefix: { bytes: Uint8Array; output: string },
  handle: BackboneHandle,
  suffix: Parameters<typeof predictCut>[0],
  head: readonly DenseLayerWeights[],
  check: { files: readonly string[]; set: CutSet },
): Promise<{ images: number; maxAbsDiff: number }> {
  const n = Math.min(CHECK_IMAGES, check.set.labels.length);
  if (n === 0) return { images: 0, maxAbsDiff: 0 };
  const pre = handle.info.preprocessing;
  const size = pre.inputSize;
  const pixels = new Float32Array(n * 3 * size * size);
  for (let i = 0; i < n; i++) pixels.set(await decodeImage(check.set.files[i]!, pre), i * 3 * size * size);
  const dims = pre.layout === 'nchw' ? [n, 3, size, size] : [n, size, size, 3];
  const run = async (bytes: Uint8Array, output: string): Promise<Float32Array> => {
    const session = await createSession(bytes);
    try {
      const outputs = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', pixels, dims) });
      const data = outputs[output]?.data;
      if (!(data instanceof Float32Array)) throw new GraftError('INTERNAL', `The fine-tuning check found no float output "${output}"`);
      return data;
    } finally {
      await session.release();
    }
  };
  const exported = await run(onnxBytes, 'probabilities');
  const cutValues = await run(prefix.bytes, prefix.output);
  const per = check.set.shape.reduce((a, b) => a * b, 1);
  const views = Array.from({ length: n }, (_, i) => [cutValues.subarray(i * per, (i + 1) * per)]);
  const expected = predictCut(suffix, head, cutActivationsInMemory(check.set.shape, views, check.set.labels.slice(0, n)));
  let maxAbsDiff = 0;
  for (let i = 0; i < expected.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(expected[i]! - exported[i]!));
  if (!(maxAbsDiff <= EXPORT_TOLERANCE)) {
    throw new GraftError('INTERNAL', `The exported fine-tuned ONNX disagrees with the trained graph by ${maxAbsDiff.toExponential(2)} (tolerance ${EXPORT_TOLERANCE}); nothing was written`, {
      hint: `please report this with the backbone name; ${optionName('fineTune.unfreeze')} with another cut may avoid it`,
    });
  }
  return { images: n, maxAbsDiff };
}

/**
 * Activations in the feature cache as {@link CutActivations}: each batch's views are read together when it is
 * formed. The values are the stored ones, which is what extractViews returns too (float16 in the cache).
 */
function cachedCutActivations(store: FeatureStore, shape: readonly number[], keys: readonly (readonly string[])[], labels: Int32Array, files: readonly string[]): CutActivations {
  return {
    shape,
    labels,
    viewCount: (r) => keys[r]!.length,
    viewsOf(rows, viewOf) {
      const wanted = rows.map((r, i) => keys[r]![viewOf[i]!]!);
      const found = store.getMany(wanted);
      return wanted.map((key, i) => {
        const values = found.get(key);
        if (!values) {
          throw new GraftError('CACHE_ERROR', `The cached activations of ${files[rows[i]!]} (view ${viewOf[i]}) left the feature cache while fine-tuning read them.`, {
            hint: 'run the command again, and do not clear the feature cache while a run uses it',
          });
        }
        return values;
      });
    },
  };
}

