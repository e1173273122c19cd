import { hasCropRows, hasMirrorRows } from '../core/selection-report.js';
import type { LabelledItem, SkippedFile } from '../data/dataset.js';
import { classWeightsFor, unlessAllOne } from './class-weights.js';
import type { BackboneHandle } from '../engine/open-backbone.js';
import type { ModelProto } from '../onnx/onnx-model.js';
import type { ProgressListener } from '../core/progress.js';
import type { DenseLayerWeights } from '../core/dense-layer.js';
import type { FineTuneConfig } from './fine-tune-config.js';
import { fineTunePhase, type FineTunePhaseInput, type FineTunePhaseResult, type FineTuneSummary, type ImageSet } from './fine-tune.js';
import { noEpochBeat, type FineTuneHoldout } from '../core/fine-tune-holdout.js';
import { runHeadPhase, scoreProbabilities, type HeadPhase, type ValScores } from './head-phase.js';
import { foldGroups, type DataSplit } from './prepare-data.js';
import { assignFolds } from './select/folds.js';
import type { TrainConfig } from './train-config.js';
import { againCheckpointPath, refitCheckpointPath } from './checkpoint.js';
import { compareOnHoldout, FEW_HELD_OUT, holdoutLogLoss, thinnestClass, type HoldoutComparison } from './holdout-comparison.js';
import { roundSeconds } from '../core/round-seconds.js';

export interface FineTuneOnHoldoutInput {
  readonly config: TrainConfig;
  readonly fine: FineTuneConfig;
  readonly data: DataSplit;
  readonly cacheDir: string;
  /** The default head (fitted on every training image) and the view of the backbone it was fitted on. */
  readonly headPhase: HeadPhase;
  readonly headHandle: BackboneHandle;
  /** The backbone that is fine-tuned (one scale: the trained suffix is one pass of the network) and its graph. */
  readonly tuneHandle: BackboneHandle;
  readonly tuneModel: ModelProto;
  readonly checkpoint: { readonly path: string; readonly fingerprint: string; readonly resume: boolean; readonly extra: Record<string, unknown> };
  readonly signal?: AbortSignal;
  /** Large matrix products in onnxruntime's native GEMM (see fineTunePhase). */
  readonly nativeGemm?: boolean;
  readonly onProgress?: ProgressListener;
}

export interface FineTuneOnHoldoutResult {
  readonly summary: FineTuneSummary;
  /** The fine-tuned classifier, or null when the default head stays (fine-tuning did not beat it on the holdout). */
  readonly model: { readonly head: DenseLayerWeights[]; readonly onnxBytes: Uint8Array; readonly val: ValScores | null } | null;
  readonly skipped: SkippedFile[];
}

/**
 * Fine-tuning whose every choice is made on training images (ARCHITECTURE.md decision 9). A fifth of the training images
 * (grouped and stratified) is held out. On the rest, the backbone's top is fine-tuned from a head fitted there, and
 * the holdout picks the epoch; the default head, refitted on the same rest, is scored on the same holdout. Fine-tuning
 * is kept only when its best epoch clearly beats that head there (compareOnHoldout). When a class has fewer than
 * FEW_HELD_OUT images in that fifth, the same trial is run again with another fifth held out, and both must say so.
 * The backbone is then fine-tuned again on every training image for that many epochs of the same schedule.
 * Otherwise the model is the default head, exactly as without --fine-tune, so asking for fine-tuning never makes the
 * model worse on the data that judged it.
 */
export async function fineTuneOnHoldout(input: FineTuneOnHoldoutInput): Promise<FineTuneOnHoldoutResult> {
  const { config, fine, data, headPhase, onProgress } = input;
  const index = (items: readonly LabelledItem[]): ImageSet => ({ files: items.map((i) => i.file), labels: Int32Array.from(items, (i) => data.labels.indexOf(i.label)) });
  const all = index(data.train);
  const groups = foldGroups(all.files, config.groupBy ?? undefined, data.sha256);
  const { fold } = assignFolds(all.labels, data.labels, groups, config.seed, 5);
  const common = { handle: input.tuneHandle, model: input.tuneModel, cacheDir: input.cacheDir, numClasses: data.labels.length, headDropout: config.head.dropout, config: fine, seed: config.seed, nativeGemm: input.nativeGemm, signal: input.signal };
  const judge = (holdoutFold: number, checkpointPath: string, progress: ProgressListener | undefined) =>
    judgeOnFold(input, { all, fold, holdoutFold, common, checkpoint: { ...input.checkpoint, path: checkpointPath }, onProgress: progress });
  const headOnly = headPhase.val ? { accuracy: headPhase.val.accuracy, loss: headPhase.val.loss } : null;
  // Every fine-tuning run made (trials, then the refit): the summary's times and activation counts are theirs together.
  const runs: FineTunePhaseResult[] = [];
  const keepHead = (holdout: FineTuneHoldout, why: string): FineTuneOnHoldoutResult => {
    onProgress?.({ type: 'info', message: `${why}: keeping the head` });
    return { summary: { ...runs[0]!.summary, ...workOf(runs), headOnly, kept: 'head', holdout }, model: null, skipped: skippedOf(runs) };
  };

  const first = await judge(0, input.checkpoint.path, onProgress);
  runs.push(first.trial);
  if (!first.verdict?.isClear) return keepHead(first.judged, `fine-tuning did not clearly beat the head alone on the held-out training images${detail(first.verdict, first.judged)}`);
  let epochs = first.trial.summary.bestEpoch;
  let judged = first.judged;
  const thin = thinnestClass(first.holdout.labels, data.labels);
  if (thin.count < FEW_HELD_OUT) {
    // One fifth holds too few images of a class to judge it: judged again on another fifth, both must agree.
    onProgress?.({ type: 'info', message: `only ${thin.count} held-out image${thin.count === 1 ? '' : 's'} of '${thin.label}': judging fine-tuning again with another fifth of the training images held out` });
    const second = await judge(1, againCheckpointPath(input.checkpoint.path), onProgress && asMessages('second trial', onProgress));
    runs.push(second.trial);
    judged = { ...first.judged, again: second.judged };
    if (!second.verdict?.isClear) return keepHead(judged, `fine-tuning did not clearly beat the head alone with the second fifth held out${detail(second.verdict, second.judged)}`);
    epochs = Math.min(epochs, second.trial.summary.bestEpoch);
  }
  onProgress?.({ type: 'info', message: `refitting on all ${all.files.length} training images for ${epochs} epoch${epochs === 1 ? '' : 's'}` });
  const start = input.tuneHandle === input.headHandle ? headPhase : await refitHeadOn(input, input.tuneHandle, all, { files: [], labels: new Int32Array(0) });
  const refit = await fineTunePhase({
    ...common,
    // The refit repeats the chosen epochs on all images: reported as messages, so the epoch history stays the trial's.
    onProgress: onProgress && asMessages('refit', onProgress, epochs),
    train: all,
    holdout: { files: [], labels: new Int32Array(0) },
    val: index(data.val),
    head: start.layers,
    stopAfterEpoch: epochs,
    checkpoint: { ...input.checkpoint, path: refitCheckpointPath(input.checkpoint.path) },
  });
  runs.push(refit);
  const summary: FineTuneSummary = {
    ...refit.summary,
    history: first.trial.summary.history,
    bestEpoch: epochs,
    stoppedEarly: first.trial.summary.stoppedEarly,
    // The run that went on from a checkpoint (a trial, or the refit): the refit's own count is 0 after a resumed trial.
    resumedAfter: runs.find((run) => run.summary.resumedAfter > 0)?.summary.resumedAfter ?? 0,
    ...workOf(runs),
    headOnly,
    kept: 'fine-tuned',
    holdout: judged,
  };
  const val = refit.val ? scoreProbabilities(refit.val, data.labels) : null;
  return { summary, model: { head: refit.head, onnxBytes: refit.onnxBytes, val }, skipped: skippedOf(runs) };
}

/** The runs' times and prefix work together (each view's activations are computed once and cached for the others). */
function workOf(runs: readonly FineTunePhaseResult[]): Pick<FineTuneSummary, 'timings' | 'activations'> {
  const sum = (value: (s: FineTuneSummary) => number): number => runs.reduce((total, run) => total + value(run.summary), 0);
  return {
    timings: { activations_s: roundSeconds(sum((s) => s.timings.activations_s)), train_s: roundSeconds(sum((s) => s.timings.train_s)), export_s: roundSeconds(sum((s) => s.timings.export_s)) },
    activations: { computed: sum((s) => s.activations.computed), cached: sum((s) => s.activations.cached), shape: runs.at(-1)!.summary.activations.shape },
  };
}

/** Files any of the runs skipped, each once. */
function skippedOf(runs: readonly FineTunePhaseResult[]): SkippedFile[] {
  const skipped: SkippedFile[] = [];
  for (const run of runs) for (const s of run.skipped) if (!skipped.some((k) => k.file === s.file)) skipped.push(s);
  return skipped;
}

/**
 * One trial: fold `holdoutFold` held out, the backbone's top fine-tuned on the rest from a head fitted there, its best
 * epoch compared with the default head refitted on the same rest, on the held-out images.
 */
async function judgeOnFold(
  input: FineTuneOnHoldoutInput,
  parts: {
    all: ImageSet;
    fold: Int32Array;
    holdoutFold: number;
    common: Omit<FineTunePhaseInput, 'onProgress' | 'train' | 'holdout' | 'val' | 'head' | 'checkpoint'>;
    checkpoint: FineTuneOnHoldoutInput['checkpoint'];
    onProgress: ProgressListener | undefined;
  },
): Promise<{ holdout: ImageSet; trial: FineTunePhaseResult; verdict: HoldoutComparison | undefined; judged: FineTuneHoldout }> {
  const { all, fold, holdoutFold, onProgress } = parts;
  const { data, fine } = input;
  const part = (inHoldout: boolean): ImageSet => {
    const rows = [...fold.keys()].filter((i) => (fold[i] === holdoutFold) === inHoldout);
    return { files: rows.map((r) => all.files[r]!), labels: Int32Array.from(rows, (r) => all.labels[r]!) };
  };
  const [rest, holdout] = [part(false), part(true)];
  // What fine-tuning must beat: the default head, fitted on the rest, on the holdout (plain images, as the trial scores).
  const baseline = await refitHeadOn(input, input.headHandle, rest, holdout);
  const init = input.tuneHandle === input.headHandle ? baseline : await refitHeadOn(input, input.tuneHandle, rest, { files: [], labels: new Int32Array(0) });
  // Judged on the objective fine-tuning trains for: each held-out image counts as its class's weight (the epochs'
  // val_loss too, so the head's loss said here is weighted alike).
  const weights = unlessAllOne(classWeightsFor(rest.labels, data.labels.length, fine.classWeights));
  const headLoss = holdoutLogLoss(baseline.valProbabilities, holdout, weights);
  onProgress?.({ type: 'info', message: `fine-tuning on ${rest.files.length} training images; ${holdout.files.length} held out to choose the epoch and to compare with the head alone (its ${weights ? 'class-weighted ' : ''}log-loss there ${headLoss?.toFixed(4) ?? 'n/a'})` });
  const trial = await fineTunePhase({ ...parts.common, onProgress, train: rest, holdout, val: { files: [], labels: new Int32Array(0) }, head: init.layers, checkpoint: parts.checkpoint });
  const verdict = trial.summary.bestEpoch > 0 ? compareOnHoldout(trial.holdout, baseline.valProbabilities, weights) : undefined;
  // The first bar, the head the trial started from (epoch 0), is reported too: an epoch that does not beat it is never
  // compared with the head alone, whose loss differs (it may read two scales).
  const startingHeadLoss = trial.initialHoldoutLoss;
  // Every loss weighted alike (as the epochs' val_loss): with a comparison, its own; without one, the head's said above.
  const judged: FineTuneHoldout = verdict
    ? { images: holdout.files.length, headLoss: verdict.headLoss, startingHeadLoss, bestLoss: verdict.tunedLoss, headAccuracy: round4(verdict.headAccuracy), bestAccuracy: round4(verdict.tunedAccuracy), t: round4(verdict.t), ...(weights ? { classWeighted: true } : {}) }
    : { images: holdout.files.length, headLoss: headLoss ?? null, startingHeadLoss, bestLoss: trial.summary.history[trial.summary.bestEpoch - 1]?.val_loss ?? null, ...(weights ? { classWeighted: true } : {}) };
  return { holdout, trial, verdict, judged };
}

/** The default head with the head phase's choices fixed, refitted on `train` (and scored on `val`) on `handle`'s features. */
function refitHeadOn(input: FineTuneOnHoldoutInput, handle: BackboneHandle, train: ImageSet, val: ImageSet): Promise<HeadPhase> {
  const { data } = input;
  const items = (set: ImageSet): LabelledItem[] => set.files.map((file, i) => ({ file, label: data.labels[set.labels[i]!]! }));
  return runHeadPhase({ config: fixedChoices(input.config, input.headPhase), data: { ...data, train: items(train), val: items(val) }, handle, cacheDir: input.cacheDir, signal: input.signal, crossValidate: false });
}

/**
 * A run's epochs as messages (`<what> epoch 2/6: ...`, out of `epochs` when it stops before its schedule ends), so that
 * the epoch history stays the first trial's.
 */
function asMessages(what: string, onProgress: ProgressListener, epochs?: number): ProgressListener {
  return (event) => {
    if (event.type === 'epoch-end') onProgress({ type: 'info', message: `${what} epoch ${event.epoch}/${epochs ?? event.epochs}: loss ${event.logs.loss.toFixed(4)}, acc ${event.logs.acc.toFixed(4)}${event.logs.val_loss === undefined ? '' : `, val_loss ${event.logs.val_loss.toFixed(4)}`}` });
    else if (event.type !== 'train-start') onProgress(event);
  };
}

/**
 * " (log-loss ... per image, ... standard errors; accuracy ... against the head's ...)", or without a comparison
 * "; no fine-tuning epoch beat the log-loss ... of epoch 0, the one-scale head it started from ...", or ''.
 */
function detail(verdict: HoldoutComparison | undefined, judged: FineTuneHoldout): string {
  if (verdict) return ` (log-loss ${verdict.mean.toFixed(4)} per image, ${verdict.t.toFixed(1)} standard errors; accuracy ${verdict.tunedAccuracy.toFixed(3)} against the head's ${verdict.headAccuracy.toFixed(3)})`;
  return judged.bestLoss === null && typeof judged.startingHeadLoss === 'number' ? `; ${noEpochBeat(judged)}` : '';
}


/** The config with the head phase's choices fixed, so a refit repeats them instead of choosing again (and no TTA). */
function fixedChoices(config: TrainConfig, phase: HeadPhase): TrainConfig {
  if (!phase.linear) return { ...config, tta: 'off' };
  const views = phase.linear.trainViews;
  return { ...config, c: phase.linear.c, mirror: hasMirrorRows(views) ? 'on' : 'off', crops: hasCropRows(views) ? 'on' : 'off', tta: 'off' };
}


function round4(value: number): number {
  return Math.round(value * 1e4) / 1e4;
}
