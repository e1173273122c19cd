import type { ManifestPart } from '../data/manifest.js';
import type { FineTuneHoldout } from '../core/fine-tune-holdout.js';
import type { TrainViews } from '../core/selection-report.js';
import type { BackboneFormat } from '../engine/backbone.js';
import type { Preprocessing } from '../core/preprocessing.js';
import { sha256File } from '../core/sha256-file.js';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { GraftError } from '../core/errors.js';
import { manifestProblem } from './manifest-schema.js';
import { upgradeV1 } from './manifest-v1.js';
import type { FineTuneConfig, HeadConfig, TrainConfig } from '../core/training-config.js';
import type { LabelIssue, SelectionReport } from '../core/selection-report.js';
import type { EpochLogs } from '../core/progress.js';

export const MANIFEST_FILE = 'graft.json';
export const ONNX_FILE = 'model.onnx';
export const HEAD_WEIGHTS_FILE = 'head.bin';

/** Shape and byte offset of one tensor in head.bin (float32, little endian). */
export interface StoredTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly offset: number;
}

/**
 * What replays a run, and nothing else: `graft train --config graft.json` reads it back. Versioned by
 * `TrainConfig.version`; `fineTune` is present when the backbone was fine-tuned after the head phase.
 */
export type TrainingConfig = TrainConfig & { readonly fineTune?: FineTuneConfig };

/** What a run found and chose: its data, counts, the head's selection, and the fine-tuning phase's result. */
export interface TrainingOutcome {
  /**
   * Where the images came from; `labelPattern` when their labels were read from their file names, `valPart` when the
   * validation images are the val or test rows of a manifest with a split column, `heldOutDigest` with a `valSplit`
   * (which images it held out; see DataSource).
   */
  readonly data: { readonly train: string; readonly val: string | null; readonly valSplit: number | null; readonly labelPattern?: string; readonly valPart?: ManifestPart; readonly heldOutDigest?: string };
  readonly images: { readonly train: number; readonly val: number; readonly skipped: number };
  /**
   * MLP head: the epoch whose weights were kept (1-based). Absent for a linear head, which has no epochs; manifests
   * written before Graft said so record 0 there, which means the same.
   */
  readonly bestEpoch?: number;
  readonly stoppedEarly: boolean;
  readonly backend: string;
  /** The cross-validation on the training images that chose the head (candidates, CV accuracy and log-loss). */
  readonly selection?: SelectionReport | null;
  /** Training images whose label the out-of-fold prediction confidently contradicts. */
  readonly labelIssues?: readonly LabelIssue[];
  /** Present when the backbone was fine-tuned after the head phase. */
  readonly fineTune?: FineTuneOutcome;
}

/** The fine-tuning phase's result (its settings are in `training.config.fineTune`). */
export interface FineTuneOutcome {
  readonly cut: { readonly tensor: string; readonly description: string };
  /** 1-based index in `metrics.history` of the first fine-tuning epoch (earlier epochs trained the head alone). */
  readonly firstEpoch: number;
  readonly bestEpoch: number;
  readonly stoppedEarly: boolean;
  readonly exportCheck: { readonly images: number; readonly maxAbsDiff: number };
  /** Chosen on held-out training images: the fine-tuned network, or the head alone. Absent in older manifests. */
  readonly kept?: 'fine-tuned' | 'head';
  /** The held-out comparison that chose. Absent in older manifests. */
  readonly holdout?: FineTuneHoldout;
}

/**
 * A head fitted outside Graft on Graft's features and written by `recipes.saveHeadModel`: its layer sizes only.
 * How it was trained (solver, regularisation, data) Graft never saw, so the manifest has no `training` section, no
 * selection and no history.
 */
export interface ExternalHeadConfig {
  readonly trainedBy: 'external';
  /** Units of each hidden layer ([] for one layer), as `HeadConfig.hidden` counts them. */
  readonly hidden: readonly number[];
}

/**
 * `graft.json`: everything needed to use a trained model without the data or the backbone's source.
 * The model carries its preprocessing (STYLE.md): predict, eval, serve and export read it from here.
 */
export interface ModelManifest {
  readonly format: 'graft-model';
  /** 2: `training` split into `config` and `outcome`. Version 1 manifests (one flat `training`) are read as 2. */
  readonly version: 2;
  readonly labels: readonly string[];
  readonly preprocessing: Preprocessing;
  readonly backbone: {
    readonly name: string;
    readonly source: string;
    readonly format: BackboneFormat;
    readonly sha256: string;
    readonly featureDim: number;
    readonly featureOutput: string;
    /** Multi-scale features: each scale's crop of the input square, e.g. [0.875, 1]. Absent: one scale. */
    readonly scales?: readonly number[];
  };
  readonly head: (HeadConfig | ExternalHeadConfig) & {
    /**
     * 'linear' (softmax regression, the default) or 'mlp'; absent in manifests older than the linear default and for
     * an external head (read: from `hidden`).
     */
    readonly kind?: 'linear' | 'mlp';
    /** Linear head: inverse L2 strength (sklearn's C) and training rows, as chosen by cross-validation or fixed. */
    readonly c?: number;
    readonly trainViews?: TrainViews;
    /** Test-time augmentation inside model.onnx (image and mirror image, averaged). Absent: none. */
    readonly tta?: boolean;
    /** Tensors in head.bin: per layer `dense_<i>/kernel` [in, out] and `dense_<i>/bias`, standardisation folded in. */
    readonly tensors: readonly StoredTensor[];
    readonly activations: readonly ('relu' | 'softmax' | 'linear')[];
  };
  /**
   * How the model was trained: what replays the run (`config`), apart from what the run found (`outcome`). Absent
   * when Graft did not train the head (`head.trainedBy: 'external'`): there is no run to record or replay.
   */
  readonly training?: { readonly config: TrainingConfig; readonly outcome: TrainingOutcome };
  readonly metrics: {
    readonly val: { readonly accuracy: number; readonly loss: number; readonly top5?: number } | null;
    readonly history: readonly EpochLogs[];
  };
  /** `onnxSha256`: the ONNX file's sha256 as it was written (absent in model directories of earlier Graft). */
  readonly files: { readonly onnx: string; readonly headWeights: string; readonly onnxSha256?: string };
  /** ONNX graph I/O: input name and layout, output names, and test-time augmentation built into the graph. */
  readonly onnx: { readonly input: string; readonly probabilities: string; readonly features: string; readonly tta?: 'mirror' };
  readonly created: string;
  readonly versions: Readonly<Record<string, string>>;
}

/** Parses and checks a manifest read from disk; names the file and the problem when it is not one. */
export function parseManifest(text: string, file: string): ModelManifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new GraftError('INVALID_MODEL_DIR', `${file} is not valid JSON`, { cause, hint: 'the model directory is damaged; train again' });
  }
  const m = (value ?? {}) as Partial<Omit<ModelManifest, 'version'>> & { version?: unknown };
  if (m.format !== 'graft-model') {
    throw new GraftError('INVALID_MODEL_DIR', `${file} is not a Graft model manifest (format is ${JSON.stringify(m.format)})`, {
      hint: 'pass a directory written by `graft train --out <dir>`',
    });
  }
  if (m.version !== 1 && m.version !== 2) {
    throw new GraftError('INVALID_MODEL_DIR', `${file} has manifest version ${String(m.version)}; this Graft reads versions 1 and 2`, {
      hint: 'upgrade Graft, or retrain with this version',
    });
  }
  const problem = manifestProblem(value);
  if (problem !== undefined) {
    throw new GraftError('INVALID_MODEL_DIR', `${file} is damaged: ${problem}`, { hint: 'the model directory was edited or damaged; restore it or train again' });
  }
  // The schema checked what loaders rely on; the upgrade only moves `training`'s keys.
  return (m.version === 1 ? upgradeV1(value as Record<string, unknown>) : m) as ModelManifest;
}

/**
 * Reads and checks a model directory's manifest and locates its ONNX file: what every loader (prediction,
 * serving) does first.
 * @throws GraftError INVALID_MODEL_DIR naming the directory and the missing or damaged file.
 */
export async function readModelDir(dir: string): Promise<{ root: string; manifest: ModelManifest; manifestPath: string; onnxPath: string }> {
  const root = resolve(dir);
  const manifestPath = join(root, MANIFEST_FILE);
  if (!existsSync(manifestPath)) {
    throw new GraftError('INVALID_MODEL_DIR', `${root} is not a Graft model directory: ${MANIFEST_FILE} is missing`, {
      hint: 'pass the folder given to `graft train --out`',
    });
  }
  const manifest = parseManifest(await readFile(manifestPath, 'utf8'), manifestPath);
  const onnxPath = join(root, manifest.files.onnx);
  if (!existsSync(onnxPath)) {
    throw new GraftError('INVALID_MODEL_DIR', `${onnxPath} is missing`, { hint: 'the model directory is incomplete; train again' });
  }
  // A file onnxruntime still reads can be damaged (a flipped byte in a weight): it predicted 50/50 without a word.
  const recorded = manifest.files.onnxSha256;
  if (recorded !== undefined) {
    const actual = await sha256File(onnxPath);
    if (actual !== recorded) {
      throw new GraftError('INVALID_MODEL_DIR', `${onnxPath} has changed since ${manifestPath} was written (its sha256 is ${actual}, not ${recorded}): it was damaged or replaced`, {
        hint: 'copy the whole model directory again, or train again',
      });
    }
  }
  return { root, manifest, manifestPath, onnxPath };
}

/**
 * Checks that model.onnx has the input and the probabilities output graft.json names, before anything runs: a model.onnx
 * replaced by another model (`graft convert … --out <model-dir>/model.onnx`) failed as "no output probabilities", with a
 * hint to pass a flag these commands do not take.
 * @throws GraftError INVALID_MODEL_DIR naming both files.
 */
export function requireManifestInputOutput(
  session: { readonly inputNames: readonly string[]; readonly outputNames: readonly string[] },
  manifest: Pick<ModelManifest, 'onnx'>,
  files: { readonly onnxPath: string; readonly manifestPath: string },
): void {
  const { input, probabilities } = manifest.onnx;
  const missing = !session.inputNames.includes(input)
    ? `graft.json names the input "${input}"; model.onnx's inputs are ${session.inputNames.join(', ')}`
    : !session.outputNames.includes(probabilities)
      ? `graft.json names the output "${probabilities}"; model.onnx's outputs are ${session.outputNames.join(', ')}`
      : undefined;
  if (missing === undefined) return;
  throw new GraftError('INVALID_MODEL_DIR', `${files.onnxPath} does not match ${files.manifestPath}: ${missing}`, {
    hint: 'model.onnx was replaced or graft.json edited; copy the whole model directory again, or train again',
  });
}

/**
 * Checks that model.onnx answered one probability per label of graft.json, for `count` images: a graft.json edited out
 * of step with its model (a label added) must not shift or overread classes silently.
 * @throws GraftError INVALID_MODEL_DIR naming both files.
 */
export function requireProbabilityPerLabel(probabilities: Float32Array, count: number, labels: readonly string[], files: { readonly onnxPath: string; readonly manifestPath: string }): void {
  if (probabilities.length === count * labels.length) return;
  throw new GraftError('INVALID_MODEL_DIR', `${files.onnxPath} outputs ${probabilities.length / count} probabilities but ${files.manifestPath} lists ${labels.length} labels`, {
    hint: 'graft.json and model.onnx come from different trainings; copy the whole model directory again',
  });
}

/** The estimate made on the training images alone (the cross-validation that chose the head), when there was one. */
export function cvEstimate(manifest: Pick<ModelManifest, 'training'>): { accuracy: number; logLoss: number; folds: number } | undefined {
  const selection = manifest.training?.outcome.selection;
  return selection ? { accuracy: selection.chosen.accuracy, logLoss: selection.chosen.logLoss, folds: selection.folds } : undefined;
}
