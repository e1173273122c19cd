import type { MirrorRule } from '../../hub/mirror.js';
import { basename, dirname, resolve } from 'node:path';
import { describeDuplicates } from '../../data/find-duplicates.js';
import { diskFullCause } from '../../core/disk-full.js';
import { GraftError } from '../../core/errors.js';
import { GraftModel } from '../../model/graft-model.js';
import { evaluateModel } from '../../model/evaluate-model.js';
import { train } from '../../recipes/train.js';
import type { ProgressEvent, TrainPhase } from '../../core/progress.js';
import type { SkippedFile } from '../../data/dataset.js';
import { removeRunFiles } from './run-files.js';
import type { DashboardStore, EpochRecord, ProjectRecord, RunRecord, RunStatus } from './dashboard-store.js';
import { makeDirectory } from '../../core/make-directory.js';

/**
 * What the events stream of a run carries (besides the stored epochs it replays first). An epoch's `epoch` counts
 * on across both phases (the index in the model's history); `phase` and `phaseEpoch` say which phase and which
 * epoch of it (fine-tuning restarts at 1). `epochs` is the most the run can take (an MLP head's epochs + fine-tuning epochs;
 * early stopping may end a phase sooner).
 */
export type RunEvent =
  | { type: 'status'; status: RunStatus; error?: string | null }
  | {
      type: 'epoch-end';
      epoch: number;
      epochs: number;
      phase: TrainPhase;
      phaseEpoch: number;
      logs: { loss: number; acc: number; val_loss?: number; val_acc?: number };
    }
  | { type: 'phase'; phase: TrainPhase; epochs: number }
  | { type: 'progress'; message: string };

/** The most epochs a run can take: an MLP head's (a linear head is solved, with no epochs), plus fine-tuning's. */
export function maxEpochs(run: RunRecord): number {
  return (run.options.hidden > 0 ? run.options.epochs : 0) + (run.options.fineTune?.epochs ?? 0);
}

/** A stored epoch as the stream's event. */
export function epochEvent(run: RunRecord, e: EpochRecord): RunEvent {
  return {
    type: 'epoch-end',
    epoch: e.epoch,
    epochs: maxEpochs(run),
    phase: e.phase,
    phaseEpoch: e.phaseEpoch,
    logs: { loss: e.loss, acc: e.acc, ...(e.val_loss === undefined ? {} : { val_loss: e.val_loss }), ...(e.val_acc === undefined ? {} : { val_acc: e.val_acc }) },
  };
}

/** What {@link RunQueue.cancel} did. */
export type CancelOutcome =
  /** The run was waiting in the queue; it was removed and is `cancelled`. */
  | 'dequeued'
  /** The run was training; it stopped (within the wait) and is `cancelled`. */
  | 'stopped'
  /** The run was told to stop but had not yet when the wait ran out; it becomes `cancelled` when it does. */
  | 'stopping'
  /** The run is not queued or running (finished, failed, cancelled, interrupted, or unknown). */
  | 'not-active';

export type RunListener = (event: RunEvent) => void;

/** A stored misclassified sample: the file stays on the server, the page gets a thumbnail URL. */
export interface StoredMisclassification {
  readonly index: number;
  readonly file: string;
  readonly true: string;
  readonly predicted: string;
  readonly confidence: number;
}

export interface StoredEvaluation {
  readonly dataset: string;
  /** True when the project has no val/ folder and every image was scored, training images included (absent before). */
  readonly onTrainingImages?: boolean;
  readonly count: number;
  readonly accuracy: number;
  /** Its 95% interval (absent in runs stored before it was kept). */
  readonly accuracyInterval?: { readonly level: number; readonly low: number; readonly high: number };
  readonly labels: readonly string[];
  readonly confusion: number[][];
  readonly perClass: Record<string, { precision: number; recall: number; f1: number; support: number }>;
  readonly misclassified: readonly StoredMisclassification[];
  /** Mean recall over classes (absent in runs stored before it was kept, as are the next three). */
  readonly balancedAccuracy?: number;
  /** The pairs of classes most often confused, most first (up to 20). */
  readonly mostConfused?: readonly { readonly true: string; readonly predicted: string; readonly count: number }[];
  /**
   * Mean top-1 confidence and the calibration error (ECE), when the model's outputs are probabilities, with what a
   * calibrated model reaches by chance on these images (absent in runs stored before it was kept).
   */
  readonly calibration?: { readonly confidence: number; readonly ece: number; readonly eceByChance?: number };
  readonly logLoss?: number;
  /** Training images whose label the cross-validated head contradicts (absent in runs stored before it existed). */
  readonly labelIssues?: readonly StoredLabelIssue[];
}

/** A label issue as stored, and what the user did about it in the dashboard (label-issue-routes.ts), if anything. */
export interface StoredLabelIssue {
  readonly file: string;
  readonly given: string;
  readonly predicted: string;
  readonly confidence: number;
  readonly fixed?: LabelFix;
}

/** An image moved into class `label` under the name `file`, or removed from the project. */
export type LabelFix = { readonly action: 'relabelled'; readonly label: string; readonly file: string } | { readonly action: 'removed' };

export interface RunQueueOptions {
  readonly store: DashboardStore;
  /** The dashboard's folder: a failed or cancelled run's files are removed only from its `runs/<id>/`. */
  readonly dataDir: string;
  /** Feature cache shared by every run (a re-run on the same images costs no backbone time). */
  readonly cacheDir: string;
  /** Never download a backbone. Defaults to false: a backbone not cached is downloaded, as `graft train` does. */
  readonly offline?: boolean;
  /** Folders searched for catalogue backbones before downloading, and hub mirrors (the CLI passes its environment's). */
  readonly modelDirs?: readonly string[];
  readonly mirrors?: readonly MirrorRule[];
  /** The folders a project's images may be read from (TrainOptions.confineTo); undefined: no confinement. */
  readonly confineTo?: (project: ProjectRecord) => readonly string[] | undefined;
  /** Told of a run the store could not record (the CLI prints it). Defaults to a line on stderr. */
  readonly onEvent?: (event: DashboardEvent) => void;
}

/** What the dashboard tells the server's operator, besides what the run's own events stream says. */
export type DashboardEvent = { type: 'run-not-recorded'; run: number; message: string };

/** Why a run queued when the server stopped never ran. */
const SHUTDOWN_BEFORE_START = 'the server was stopped before this run started';

/**
 * Trains the dashboard's runs in this process, one at a time (training uses every core; two at once would only
 * both be slower), in the order they were queued. Listeners get each run's status changes and epochs as they happen.
 */
export class RunQueue {
  private readonly options: RunQueueOptions;
  private readonly pending: number[] = [];
  private readonly listeners = new Map<number, Set<RunListener>>();
  private active: Promise<void> | undefined;
  /** The run training now, its abort switch, and the promise that settles when it has stopped. */
  private current: { readonly id: number; readonly controller: AbortController; done: Promise<void> } | undefined;
  private isClosed = false;

  constructor(options: RunQueueOptions) {
    this.options = options;
  }

  enqueue(runId: number): void {
    this.pending.push(runId);
    this.active ??= this.drain();
  }

  /** Subscribes to one run's events; returns the unsubscribe function. */
  listen(runId: number, listener: RunListener): () => void {
    let set = this.listeners.get(runId);
    if (!set) this.listeners.set(runId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (!set.size) this.listeners.delete(runId);
    };
  }

  /**
   * Cancels a queued run (taken out of the queue) or the running one (its training is aborted at the next batch;
   * nothing is written, and what it had written is removed). Waits up to `waitMs` for a running run to stop.
   */
  async cancel(runId: number, waitMs = 10_000): Promise<CancelOutcome> {
    const queued = this.pending.indexOf(runId);
    if (queued >= 0) {
      this.pending.splice(queued, 1);
      this.options.store.markCancelled(runId, 'it never started');
      this.emit(runId, { type: 'status', status: 'cancelled', error: 'it never started' });
      return 'dequeued';
    }
    const current = this.current;
    if (current?.id !== runId) return 'not-active';
    current.controller.abort();
    let timer: NodeJS.Timeout | undefined;
    const stopped = await Promise.race([
      current.done.then(() => true),
      new Promise<boolean>((ok) => (timer = setTimeout(() => ok(false), waitMs))),
    ]);
    clearTimeout(timer);
    return stopped ? 'stopped' : 'stopping';
  }

  /**
   * Stops for a server shutting down (SIGTERM, Ctrl+C), promptly: the dashboard never resumes a run, so the running
   * one is aborted at its next step (its files removed, as a cancelled run's) rather than waited for, which could
   * take minutes an orchestrator does not give. It and the queued runs are stored as `interrupted`, saying why.
   */
  async close(): Promise<void> {
    this.isClosed = true;
    for (const id of this.pending.splice(0)) this.markInterrupted(id, SHUTDOWN_BEFORE_START);
    this.current?.controller.abort();
    await this.active;
  }

  /** Stores a run as interrupted, saying why, and tells its listeners. */
  private markInterrupted(runId: number, reason: string): void {
    this.options.store.markInterrupted(runId, reason);
    this.emit(runId, { type: 'status', status: 'interrupted', error: reason });
  }

  private emit(runId: number, event: RunEvent): void {
    for (const listener of this.listeners.get(runId) ?? []) listener(event);
  }

  private async drain(): Promise<void> {
    try {
      for (let id = this.pending.shift(); id !== undefined && !this.isClosed; id = this.pending.shift()) {
        const current: { id: number; controller: AbortController; done: Promise<void> } = { id, controller: new AbortController(), done: Promise.resolve() };
        this.current = current;
        // A failure to record the run itself (a full disk under the store) must not take the server down: the run
        // stays as the store last had it, the listeners hear it failed, and the queue goes on.
        current.done = this.execute(id, current.controller.signal).catch((error: unknown) => {
          const message = `the dashboard could not record this run (${error instanceof Error ? error.message : String(error)}); check the space and permissions of its data folder`;
          const event: DashboardEvent = { type: 'run-not-recorded', run: id, message };
          if (this.options.onEvent) this.options.onEvent(event);
          else process.stderr.write(`graft ui: run ${id}: ${message}\n`);
          this.emit(id, { type: 'status', status: 'failed', error: message });
        });
        try {
          await current.done;
        } finally {
          this.current = undefined;
        }
      }
    } finally {
      this.active = undefined;
    }
  }

  private async execute(runId: number, signal: AbortSignal): Promise<void> {
    const { store } = this.options;
    const run = store.run(runId);
    const project = run && store.project(run.projectId);
    if (!run || !project || run.status !== 'queued') return;
    store.markRunning(runId);
    this.emit(runId, { type: 'status', status: 'running' });
    const fineTune = run.options.fineTune;
    try {
      // The run's folder holds the model and, while fine-tuning, its checkpoint (`model.checkpoint`, written beside it).
      await makeDirectory(dirname(run.modelDir));
      const warnings: string[] = [];
      const confineTo = this.options.confineTo?.(project);
      const trainWith = (backbone: string) =>
        train({
          train: project.dataDir,
          ...(confineTo ? { confineTo } : {}),
          backbone,
          out: run.modelDir,
          cacheDir: this.options.cacheDir,
          offline: this.options.offline ?? false,
          modelDirs: this.options.modelDirs,
          mirrors: this.options.mirrors,
          config: { epochs: run.options.epochs, head: { hidden: run.options.hidden > 0 ? [run.options.hidden] : [] }, ...(run.options.crops ? { crops: 'auto' as const } : {}) },
          ...(fineTune ? { fineTune: { unfreeze: fineTune.unfreeze, epochs: fineTune.epochs, views: fineTune.views, classWeights: fineTune.classWeights } } : {}),
          onProgress: (event) => this.onProgress(run, event),
          signal,
        });
      let result;
      try {
        result = await trainWith(run.options.backbone);
      } catch (error) {
        // The default backbone, when it cannot be had (offline, no cached copy): the bundled one, and the page says so.
        const fallback = run.options.fallbackBackbone;
        if (!fallback || !(error instanceof GraftError) || !UNAVAILABLE.includes(error.code)) throw error;
        const warning = `${run.options.backbone} could not be had (${error.message.split('\n')[0]}); trained with ${fallback} instead, whose features are much weaker. Allow downloads (graft ui without --offline) or put ${run.options.backbone} in the cache, then run again.`;
        warnings.push(warning);
        this.emit(runId, { type: 'progress', message: `warning: ${warning}` });
        result = await trainWith(fallback);
      }
      if (signal.aborted) throw new GraftError('CANCELLED', 'Training was cancelled');
      warnings.push(...skippedWarning(result.images.skipped));
      this.emit(runId, { type: 'progress', message: 'evaluating' });
      const evaluation = { ...(await evaluateRun(run.modelDir, project.dataDir)), labelIssues: result.labelIssues.slice(0, 200).map((i) => ({ file: i.file, given: i.given, predicted: i.predicted, confidence: i.confidence })) };
      // Cancelled while evaluating: the user asked for no model, so the one just written goes too.
      if (signal.aborted) throw new GraftError('CANCELLED', 'Training was cancelled');
      store.saveEvaluation(runId, evaluation);
      store.markFinished(runId, {
        labels: result.labels,
        val: result.val && { accuracy: result.val.accuracy, loss: result.val.loss, count: result.val.count },
        images: { train: result.images.train, val: result.images.val, skipped: result.images.skipped.length },
        timings: result.timings,
        bestEpoch: result.bestEpoch,
        backbone: result.backbone.name,
        head: result.head,
        selection: result.selection && {
          folds: result.selection.folds,
          criterion: result.selection.criterion,
          chosen: result.selection.chosen,
          table: result.selection.table,
          ...(result.selection.classWeighted ? { classWeighted: true } : {}),
        },
        labelIssues: result.labelIssues.length,
        ...(warnings.length ? { warnings } : {}),
        ...(result.fineTune
          ? {
              fineTune: {
                cut: result.fineTune.cut,
                firstEpoch: result.history.length + 1,
                bestEpoch: result.fineTune.bestEpoch,
                stoppedEarly: result.fineTune.stoppedEarly,
                headOnly: result.fineTune.headOnly ?? null,
                // What the model holds, and the held-out comparison that decided it.
                kept: result.fineTune.kept ?? 'fine-tuned',
                ...(result.fineTune.holdout ? { holdout: result.fineTune.holdout } : {}),
              },
            }
          : {}),
      });
      this.emit(runId, { type: 'status', status: 'finished' });
    } catch (error) {
      // Nothing of a failed or cancelled run stays on disk: no model, no fine-tuning checkpoint, no empty run folder
      // (the dashboard never resumes a run). Its record keeps the reason.
      await removeRunFiles(run, this.options.dataDir).catch(() => undefined);
      if (signal.aborted || (error instanceof GraftError && error.code === 'CANCELLED')) {
        const done = store.epochs(runId).length;
        const note = `${done ? `stopped after ${done} epoch${done === 1 ? '' : 's'}` : 'stopped before the first epoch ended'}; no model was written`;
        if (this.isClosed) {
          this.markInterrupted(runId, `the server was stopped while this run was training: ${note}`);
          return;
        }
        store.markCancelled(runId, note);
        this.emit(runId, { type: 'status', status: 'cancelled', error: note });
        return;
      }
      const said = error instanceof Error ? error.message : String(error);
      // A full disk is the machine's state, said as such (as the CLI's DISK_FULL): the run can go again once there is room.
      const message = diskFullCause(error) ? `The disk is full: ${said}. Free space on it, then train again.` : said;
      store.markFailed(runId, message);
      this.emit(runId, { type: 'status', status: 'failed', error: message });
    }
  }

  private onProgress(run: RunRecord, event: ProgressEvent): void {
    if (event.type === 'epoch-end') {
      const stored = this.options.store.addEpoch(run.id, event.phase ?? 'head', event.epoch, event.logs);
      this.emit(run.id, epochEvent(run, stored));
    } else if (event.type === 'train-start' && event.phase === 'fine-tune') {
      this.emit(run.id, { type: 'phase', phase: 'fine-tune', epochs: event.epochs });
    } else if (event.type === 'extract' && (event.done === event.total || event.done % 16 === 0)) {
      this.emit(run.id, { type: 'progress', message: `features ${event.done}/${event.total}` });
    } else if (event.type === 'duplicates') {
      this.emit(run.id, { type: 'progress', message: `warning: ${describeDuplicates(event.groups).join('; ')}` });
    } else if (event.type === 'select') {
      const b = event.best;
      this.emit(run.id, { type: 'progress', message: `choosing the head: C ${event.c.toPrecision(2)} (${event.step}/${event.steps}), best cross-validated accuracy so far ${(b.accuracy * 100).toFixed(1)}%` });
    } else if (event.type === 'download') {
      if (event.total) this.emit(run.id, { type: 'progress', message: `downloading ${event.file}: ${Math.round((100 * event.loaded) / event.total)}%` });
    } else if (event.type === 'early-stop') {
      this.emit(run.id, { type: 'progress', message: `stopped early at epoch ${event.epoch}; best epoch ${event.bestEpoch}` });
    } else if (event.type === 'warning') {
      this.emit(run.id, { type: 'progress', message: `warning: ${event.message}` });
    } else if (event.type === 'info' && run.options.fineTune) {
      this.emit(run.id, { type: 'progress', message: event.message });
    }
  }
}

/** Images training could not read and left out, as `graft train` prints them: said on the page, not only counted. */
function skippedWarning(skipped: readonly SkippedFile[]): string[] {
  if (!skipped.length) return [];
  const named = skipped.slice(0, 3).map((s) => `${basename(s.file)} (${s.reason})`).join('; ');
  return [`${skipped.length} image${skipped.length === 1 ? '' : 's'} could not be read and ${skipped.length === 1 ? 'was' : 'were'} left out: ${named}${skipped.length > 3 ? '; ...' : ''}.`];
}

/** Errors that mean a backbone cannot be had here and now (rather than a broken model). */
const UNAVAILABLE: readonly string[] = ['OFFLINE', 'MODEL_NOT_FOUND'];

/**
 * Scores the trained model on the project's data: its val/ folder when it has one, else every image (training
 * images included, which is what finds mislabelled files: a confident mistake on a training image is suspect).
 */
async function evaluateRun(modelDir: string, dataDir: string): Promise<StoredEvaluation> {
  const model = await GraftModel.load(modelDir);
  try {
    const report = await evaluateModel(model, dataDir);
    return {
      dataset: report.dataset,
      // No val/ folder: every image was scored, the training images among them (not an estimate of accuracy).
      onTrainingImages: resolve(report.dataset) === resolve(dataDir),
      count: report.count,
      accuracy: report.accuracy,
      accuracyInterval: report.accuracyInterval,
      labels: report.confusion.labels,
      confusion: report.confusion.matrix,
      perClass: report.perClass,
      misclassified: report.misclassified.slice(0, 200).map((m) => ({ index: m.index, file: m.file ?? '', true: m.true, predicted: m.predicted, confidence: m.confidence })),
      balancedAccuracy: report.balancedAccuracy,
      mostConfused: report.mostConfused.slice(0, 20),
      ...(report.calibration && report.logLoss !== undefined ? { calibration: { confidence: report.calibration.confidence, ece: report.calibration.ece, eceByChance: report.calibration.eceByChance }, logLoss: report.logLoss } : {}),
    };
  } finally {
    await model.dispose();
  }
}
