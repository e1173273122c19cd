import { GraftModel } from '../../model/graft-model.js';
import { evaluateModel } from '../../model/evaluate-model.js';
import { train } from '../../learn/train.js';
import type { ProgressEvent } from '../../progress.js';
import type { DashboardStore, RunRecord, RunStatus } from './dashboard-store.js';

/** What the events stream of a run carries (besides the stored epochs it replays first). */
export type RunEvent =
  | { type: 'status'; status: RunStatus; error?: string | null }
  | { type: 'epoch-end'; epoch: number; epochs: number; logs: { loss: number; acc: number; val_loss?: number; val_acc?: number } }
  | { type: 'progress'; message: string };

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
  readonly count: number;
  readonly accuracy: number;
  readonly labels: readonly string[];
  readonly confusion: number[][];
  readonly perClass: Record<string, { precision: number; recall: number; f1: number; support: number }>;
  readonly misclassified: readonly StoredMisclassification[];
}

export interface RunQueueOptions {
  readonly store: DashboardStore;
  /** Feature cache shared by every run (a re-run on the same images costs no backbone time). */
  readonly cacheDir: string;
  /** Never download a backbone. Defaults to true. */
  readonly offline?: boolean;
}

/**
 * Trains the dashboard's runs in this process, one at a time (training uses every core; two at once would only
 * both be slower), in the order they were queued. Listeners get each run's status changes and epochs as they happen.
 */
export class RunQueue {
  private readonly options: RunQueueOptions;
  private readonly pending: number[] = [];
  private readonly listeners = new Map<number, Set<RunListener>>();
  private active: Promise<void> | undefined;
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

  /** Stops taking queued runs and waits for the current one (its status is then stored truthfully). */
  async close(): Promise<void> {
    this.isClosed = true;
    this.pending.length = 0;
    await this.active;
  }

  private emit(runId: number, event: RunEvent): void {
    for (const listener of this.listeners.get(runId) ?? []) listener(event);
  }

  private async drain(): Promise<void> {
    try {
      for (let id = this.pending.shift(); id !== undefined && !this.isClosed; id = this.pending.shift()) {
        await this.execute(id);
      }
    } finally {
      this.active = undefined;
    }
  }

  private async execute(runId: number): Promise<void> {
    const { store } = this.options;
    const run = store.run(runId);
    const project = run && store.project(run.projectId);
    if (!run || !project) return;
    store.markRunning(runId);
    this.emit(runId, { type: 'status', status: 'running' });
    try {
      const result = await train({
        train: project.dataDir,
        backbone: run.options.backbone,
        out: run.modelDir,
        cacheDir: this.options.cacheDir,
        offline: this.options.offline ?? true,
        config: { epochs: run.options.epochs, head: { hidden: run.options.hidden > 0 ? [run.options.hidden] : [] } },
        onProgress: (event) => this.onProgress(run, event),
      });
      this.emit(runId, { type: 'progress', message: 'evaluating' });
      store.saveEvaluation(runId, await evaluateRun(run.modelDir, project.dataDir));
      store.markFinished(runId, {
        labels: result.labels,
        val: result.val && { accuracy: result.val.accuracy, loss: result.val.loss, count: result.val.count },
        images: { train: result.images.train, val: result.images.val, skipped: result.images.skipped.length },
        timings: result.timings,
        bestEpoch: result.bestEpoch,
        backbone: result.backbone.name,
      });
      this.emit(runId, { type: 'status', status: 'finished' });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      store.markFailed(runId, message);
      this.emit(runId, { type: 'status', status: 'failed', error: message });
    }
  }

  private onProgress(run: RunRecord, event: ProgressEvent): void {
    if (event.type === 'epoch-end') {
      this.options.store.addEpoch(run.id, event.epoch, event.logs);
      this.emit(run.id, { type: 'epoch-end', epoch: event.epoch, epochs: event.epochs, logs: event.logs });
    } else if (event.type === 'extract' && (event.done === event.total || event.done % 16 === 0)) {
      this.emit(run.id, { type: 'progress', message: `features ${event.done}/${event.total}` });
    } else if (event.type === 'early-stop') {
      this.emit(run.id, { type: 'progress', message: `stopped early at epoch ${event.epoch}; best epoch ${event.bestEpoch}` });
    }
  }
}

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
      count: report.count,
      accuracy: report.accuracy,
      labels: report.confusion.labels,
      confusion: report.confusion.matrix,
      perClass: report.perClass,
      misclassified: report.misclassified.slice(0, 200).map((m) => ({ index: m.index, file: m.file ?? '', true: m.true, predicted: m.predicted, confidence: m.confidence })),
    };
  } finally {
    await model.dispose();
  }
}
