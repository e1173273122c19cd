import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { evaluateItems, evaluateModel, type ModelEvaluation } from '../model/evaluate-model.js';
import { hashFiles } from '../data/find-duplicates.js';
import { isFeatureStore } from '../features/shard-set.js';
import { prepareData } from '../learn/prepare-data.js';
import { GraftModel } from '../model/graft-model.js';
import type { ProgressListener } from '../core/progress.js';
import { renderReport, type ReportEvaluation } from './render-report.js';
import { thumbnailDataUri } from './thumbnail.js';

/** Options of {@link buildReport}; all optional. */
export interface BuildReportOptions {
  /**
   * Labelled images to evaluate on (class folders, train/+val/ or CSV). Default: the validation folder recorded
   * in the manifest, when it still exists; otherwise the report has no evaluation sections.
   */
  readonly data?: string;
  /** Labels of `data` from its image names (see scanNamedImages); the recorded folder uses the recorded pattern. */
  readonly labelPattern?: string;
  /** At most this many misclassified images, and as many label issues, are shown (most confident first). Defaults to 60. */
  readonly maxMistakes?: number;
  /** Thumbnail side in pixels. Defaults to 128. */
  readonly thumbnailPx?: number;
  readonly onProgress?: ProgressListener;
}

/** What {@link buildReport} made. */
export interface BuiltReport {
  readonly html: string;
  /** The dataset scored, or null when there was none. */
  readonly dataset: string | null;
  readonly accuracy: number | null;
  readonly misclassified: number;
  /** Why the recorded held-out images were not scored (the training folder changed since), when so. */
  readonly notScored?: string;
}

/**
 * Why training's held-out images cannot be scored when the data graft.json recorded is gone (moved or renamed since),
 * or undefined: without it the report would say the model had no validation images.
 */
function movedData(recordedVal: string | null, recorded: { readonly train: string; readonly valSplit?: number | null } | undefined): string | undefined {
  if (recordedVal && !existsSync(recordedVal)) return `The validation data ${recordedVal} recorded in graft.json is not there (moved or renamed?); pass --data <labelled folder> to score one`;
  if (recorded?.valSplit && !existsSync(recorded.train)) return `The training folder ${recorded.train} recorded in graft.json is not there (moved or renamed?), so the images its --val-split held out cannot be drawn again; pass --data <labelled folder> to score one`;
  return undefined;
}

/**
 * Loads a model directory, evaluates it on labelled data, makes thumbnails of the mistakes and renders the
 * self-contained HTML report ({@link renderReport}). `graft report` is this plus writing the file.
 *
 * @throws GraftError INVALID_MODEL_DIR or INVALID_DATASET as `GraftModel.load` and `evaluateModel` do.
 */
export async function buildReport(modelDir: string, options: BuildReportOptions = {}): Promise<BuiltReport> {
  const model = await GraftModel.load(modelDir);
  try {
    const manifest = model.manifest;
    const recordedVal = manifest.training?.outcome.data?.val ?? null;
    const dataset = options.data ?? (recordedVal && existsSync(recordedVal) ? recordedVal : null);
    // The recorded validation folder is labelled as training read it; another folder, as the caller says.
    const labelPattern = options.data === undefined ? manifest.training?.outcome.data?.labelPattern : options.labelPattern;
    // Likewise the rows of a split manifest that training validated on.
    const part = options.data === undefined ? manifest.training?.outcome.data?.valPart : undefined;
    let evaluation: ReportEvaluation | null = null;
    // A --val-split's held-out images are drawn again as training drew them (same listing, fraction and seed).
    const recorded = manifest.training?.outcome.data;
    const heldOut = !dataset && recorded && recorded.valSplit && existsSync(recorded.train) ? { ...recorded, valSplit: recorded.valSplit } : undefined;
    // A model trained from a feature store held out rows of the store, not image files the report could read.
    const fromStore = heldOut && isFeatureStore(heldOut.train);
    const scored = dataset
      ? await evaluateModel(model, dataset, { onProgress: options.onProgress, labelPattern, ...(part ? { part } : {}) })
      : heldOut && !fromStore
        ? await evaluateHeldOut(model, heldOut, manifest.training!.config, manifest.training!.outcome.images.val, options.onProgress)
        : null;
    const notScored = fromStore
      ? `The model was trained from the feature store ${heldOut.train}: the rows its --val-split held out are features, not images the report can score (their accuracy is the recorded validation above)`
      : scored && 'notScored' in scored
        ? scored.notScored
        : movedData(options.data === undefined ? recordedVal : null, recorded);
    if (scored && !('notScored' in scored)) {
      const report = scored;
      const mistakes = report.misclassified.slice(0, options.maxMistakes ?? 60);
      const thumbnails = await mapLimit(mistakes, 4, (m) => (m.file ? thumbnailDataUri(m.file, options.thumbnailPx) : Promise.resolve(undefined)));
      evaluation = {
        dataset: report.part ? `${report.dataset} (its ${report.part} rows)` : report.dataset,
        count: report.count,
        accuracy: report.accuracy,
        accuracyInterval: report.accuracyInterval,
        top5: report.top5,
        perClass: report.perClass,
        macroF1: report.macroF1,
        balancedAccuracy: report.balancedAccuracy,
        confusion: report.confusion,
        mostConfused: report.mostConfused,
        ...(report.logLoss !== undefined && report.calibration ? { logLoss: report.logLoss, calibration: report.calibration } : {}),
        misclassifiedTotal: report.misclassified.length,
        skipped: report.skipped.length,
        misclassified: mistakes.map((m, i) => ({
          file: m.file ?? `#${m.index}`,
          true: m.true,
          predicted: m.predicted,
          confidence: m.confidence,
          ...(thumbnails[i] ? { thumbnail: thumbnails[i] } : {}),
        })),
      };
    }
    const issues = (manifest.training?.outcome.labelIssues ?? []).slice(0, options.maxMistakes ?? 60);
    const issueThumbnails = await mapLimit(issues, 4, (m) => (existsSync(m.file) ? thumbnailDataUri(m.file, options.thumbnailPx) : Promise.resolve(undefined)));
    const labelIssues = manifest.training?.outcome.labelIssues ? issues.map((m, i) => ({ ...m, ...(issueThumbnails[i] ? { thumbnail: issueThumbnails[i] } : {}) })) : undefined;
    const labelIssuesTotal = manifest.training?.outcome.labelIssues?.length ?? 0;
    const html = renderReport({ manifest, modelName: basename(model.dir), evaluation, labelIssues, labelIssuesTotal, ...(notScored ? { notScored } : {}), generatedAt: new Date().toISOString() });
    return { html, dataset: evaluation?.dataset ?? null, accuracy: evaluation?.accuracy ?? null, misclassified: evaluation?.misclassifiedTotal ?? 0, ...(notScored ? { notScored } : {}) };
  } finally {
    await model.dispose();
  }
}

/**
 * The images a `--val-split` held out of `data.train` (drawn again with its seed and `--group-by`), scored; or why
 * not, when the folder has changed since training: the split drawn again would then hold out other images, some of
 * which the model trained on. Training records which images it held out (`heldOutDigest`). Models from before that
 * recorded only how many, and were split by an older rule (copies of an image and `--group-by` groups were not yet kept
 * on one side, a manifest's rows were taken in file order): the same count can be other images, so they are not scored.
 */
async function evaluateHeldOut(
  model: GraftModel,
  data: { train: string; valSplit: number; labelPattern?: string; heldOutDigest?: string },
  { seed, groupBy }: { seed: number; groupBy: string | null },
  heldOutThen: number,
  onProgress: ProgressListener | undefined,
): Promise<ModelEvaluation | { readonly notScored: string }> {
  if (data.heldOutDigest === undefined) {
    return {
      notScored: `graft.json records how many images the --val-split ${data.valSplit} of ${data.train} held out (${heldOutThen}), not which: it was written by an earlier Graft, whose split this one does not draw again image for image, so the images the model never trained on cannot be told apart; pass --data <labelled folder> to score one, or train again to record them`,
    };
  }
  const split = await prepareData({
    train: data.train,
    valSplit: data.valSplit,
    seed,
    ...(data.labelPattern ? { labelPattern: data.labelPattern } : {}),
    ...(groupBy ? { groupBy } : {}),
    // As training did: copies of an image on one side of the split (the same hashes, read here without the cache).
    hashFiles,
  });
  if (split.source.heldOutDigest !== data.heldOutDigest) {
    return {
      notScored: `${data.train} has changed since training (its --val-split ${data.valSplit} held out ${heldOutThen} images; drawn again now, the split holds out ${split.val.length}, not all the same ones), so the images the model never trained on cannot be told apart`,
    };
  }
  return evaluateItems(model, split.val, `${data.train} (the ${split.val.length} images --val-split ${data.valSplit} held out, seed ${seed})`, { onProgress });
}

/** Maps with at most `limit` calls in flight (sharp uses both cores with 2-4 images in flight, ARCHITECTURE.md). */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
