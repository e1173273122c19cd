import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { LabelledItem, SkippedFile } from '../data/dataset.js';
import { assertOneSplitFolder, EVAL_FOLDER_NAMES, findSplitFolders, isSplitName, splitCandidates } from '../data/find-split-folders.js';
import { labelLookup } from '../data/split.js';
import type { ManifestPart } from '../data/manifest.js';
import { describeCounts } from '../data/scan-csv.js';
import { scanDataset } from '../data/scan-dataset.js';
import { GraftError } from '../core/errors.js';
import { refuseUnknownKeys } from '../core/unknown-options.js';
import { optionExample } from '../core/option-name.js';
import { argmax, evaluatePredictions, type EvaluationReport } from '../metrics/classification.js';
import { comparePaired, type PairedComparison } from '../metrics/paired.js';
import type { ProgressListener } from '../core/progress.js';
import type { GraftModel } from './graft-model.js';

/** `part`: which rows of a manifest with a split column were scored; `images` only when asked for (`perImage`). */
export type ModelEvaluation = EvaluationReport & { readonly skipped: SkippedFile[]; readonly dataset: string; readonly part?: ManifestPart; readonly images?: readonly ScoredImage[] };

/** One image of an evaluation, in the dataset's order: what the model said of it, or why it could not be read. */
export interface ScoredImage {
  readonly file: string;
  /** The class the dataset gives it. */
  readonly label: string;
  /** The model's class and its probability; absent for an unreadable image (see `error`). */
  readonly predicted?: string;
  readonly probability?: number;
  /** The probability the model gave the dataset's class. */
  readonly labelProbability?: number;
  readonly error?: string;
}

/** Options of {@link evaluateModel} and {@link evaluateItems}. */
export interface EvaluateOptions {
  readonly onProgress?: ProgressListener;
  readonly signal?: AbortSignal;
  /** Also return every image's prediction (`images`), for a table of them (`graft eval --csv`). */
  readonly perImage?: boolean;
}

/** The rows of a split manifest evaluation scores, in order of preference (as EVAL_FOLDER_NAMES). */
const EVAL_PARTS: readonly ManifestPart[] = ['test', 'val'];

/** Every option evaluateModel reads (`{ perimage: true }` ran without the per-image list, silently). */
const EVALUATE_OPTIONS: Record<keyof (EvaluateOptions & { labelPattern?: string; part?: ManifestPart }), true> = { onProgress: true, signal: true, perImage: true, labelPattern: true, part: true };

/**
 * Scores a model directory on a labelled dataset (class sub-folders, a CSV, or with `labelPattern` images whose names
 * hold their class). A dataset with train/ and test/ (or val/, valid/, validation/) folders is scored on that
 * held-out folder, test/ first; a manifest with a split column on its test rows, else its val rows (`part` picks
 * others). Every class of the dataset must be one of the model's labels; it may hold some of them only, even one (a
 * new batch of one kind of part, say), and an empty class folder is passed over.
 */
export async function evaluateModel(model: GraftModel, datasetPath: string, options: EvaluateOptions & { labelPattern?: string; part?: ManifestPart } = {}): Promise<ModelEvaluation> {
  refuseUnknownKeys('evaluateModel', options, EVALUATE_OPTIONS);
  const split = await findSplitFolders(datasetPath, EVAL_FOLDER_NAMES);
  if (split && split.val === undefined) {
    throw new GraftError('INVALID_DATASET', `${datasetPath} holds train/ and no held-out folder (test/, val/, valid/ or validation/) to evaluate on`, {
      hint: `pass the folder of images the model was not trained on, e.g. graft eval <model> ${join(datasetPath, 'test')}`,
    });
  }
  const dataset = await scanDataset(split?.val ?? (await heldOutFolderOnly(datasetPath, model.labels)) ?? datasetPath, { isLenient: true, labelPattern: options.labelPattern, parts: options.part ? [options.part] : EVAL_PARTS }).catch((error: unknown) => {
    // A model trained on file names (--label-pattern) is scored on file names too: the pattern it was trained with is
    // in its graft.json, so say it, rather than only describe the folder layout.
    const trainedWith = model.manifest.training?.outcome.data.labelPattern;
    if (error instanceof GraftError && error.code === 'INVALID_DATASET' && options.labelPattern === undefined && trainedWith) {
      throw new GraftError(error.code, error.message, { hint: `this model was trained with ${optionExample('labelPattern', trainedWith, JSON.stringify(trainedWith))}: pass it again to score file names`, cause: error });
    }
    throw error;
  });
  if (dataset.split && dataset.split.part === undefined) {
    throw new GraftError('INVALID_DATASET', `${dataset.root} has no ${options.part ?? 'test or val'} rows in its split column to evaluate on (${describeCounts(dataset.split.counts)})`, {
      hint: 'mark the images the model was not trained on as test in the split column, or pass a manifest of them',
    });
  }
  if (dataset.items.length === 0) {
    throw new GraftError('INVALID_DATASET', `No images found in ${dataset.root}`, { hint: 'evaluate on a folder with one sub-folder of images per class, or a path,label manifest' });
  }
  const part = dataset.split?.part;
  return { ...(await evaluateItems(model, dataset.items, dataset.root, { onProgress: options.onProgress, skipped: dataset.skipped, signal: options.signal, perImage: options.perImage })), ...(part ? { part } : {}) };
}

/**
 * Scores a model on labelled images already listed (the held-out part of a `--val-split`, say); `name` is what the
 * evaluation calls them. Every label must be one of the model's.
 */
export async function evaluateItems(
  model: GraftModel,
  items: readonly LabelledItem[],
  name: string,
  options: EvaluateOptions & { skipped?: readonly SkippedFile[] } = {},
): Promise<ModelEvaluation> {
  const labels = model.labels;
  const lookup = labelLookup(labels);
  const unknown = [...new Set(items.map((i) => i.label).filter((label) => lookup(label) === undefined))];
  if (unknown.length) {
    // "Ants/" against a model of "ants": a folder renamed, or copied from a system that does not keep case.
    const caseTwins = unknown.flatMap((label) => labels.filter((known) => known.toLowerCase() === label.toLowerCase()).map((known) => `"${label}" is "${known}" in the model`));
    throw new GraftError('INVALID_DATASET', `${name} has classes the model does not know: ${unknown.join(', ')}. Model labels: ${labels.join(', ')}`, {
      hint: `${caseTwins.length ? `class names are compared with their case: ${caseTwins.join(', ')}; rename the folder. Otherwise ` : ''}evaluate on data with the same class folders the model was trained on`,
    });
  }
  const files = items.map((i) => i.file);
  const run = await model.probabilities(files, { onProgress: options.onProgress, signal: options.signal });
  const k = labels.length;
  const kept: number[] = [];
  files.forEach((_, i) => {
    if (!Number.isNaN(run.probabilities[i * k])) kept.push(i);
  });
  if (!kept.length) throw new GraftError('INVALID_DATASET', `No readable images in ${name}`);
  const probabilities = new Float32Array(kept.length * k);
  kept.forEach((i, row) => probabilities.set(run.probabilities.subarray(i * k, (i + 1) * k), row * k));
  const trueIndex = kept.map((i) => labels.indexOf(lookup(items[i]!.label)!));
  const scored = evaluatePredictions({ labels: [...labels], trueIndex, probabilities, files: kept.map((i) => files[i]!) });
  // A mistake's index is its image's place among the items (as in `images`), not among the readable ones alone.
  const report = { ...scored, misclassified: scored.misclassified.map((m) => ({ ...m, index: kept[m.index]! })) };
  const images = options.perImage ? scoredImages(items, run, labels, lookup) : undefined;
  return { ...report, skipped: [...(options.skipped ?? []), ...run.skipped], dataset: name, ...(images ? { images } : {}) };
}

/** An image one model got right and the other wrong. */
export interface Disagreement {
  readonly file: string;
  /** The class the dataset gives it. */
  readonly label: string;
  /** Each model's class for it, in the order the evaluations were given. */
  readonly predicted: readonly [string, string];
}

/** {@link compareEvaluations}' answer. */
export interface EvaluationComparison {
  /** The four counts and McNemar's exact p, over the images both models could read. */
  readonly paired: PairedComparison;
  /** The images only one of them got right, in the first evaluation's order: where to look to see what one does better. */
  readonly disagreements: readonly Disagreement[];
}

/**
 * Two evaluations of the same images (`perImage`, by two models) set side by side, image by image: how often each
 * model was right where the other was wrong, McNemar's exact p-value, and those images. An image either could not
 * read is left out.
 *
 * @throws RangeError when either evaluation lacks `images` or they share no scored image.
 */
export function compareEvaluations(first: ModelEvaluation, second: ModelEvaluation): EvaluationComparison {
  if (!first.images || !second.images) throw new RangeError('compareEvaluations: evaluate both models with perImage: true');
  const theirs = new Map(second.images.flatMap((i) => (i.predicted === undefined ? [] : [[i.file, i.predicted] as const])));
  const pairs = first.images.flatMap((i) => {
    const other = theirs.get(i.file);
    return i.predicted === undefined || other === undefined ? [] : [{ file: i.file, label: i.label, predicted: [i.predicted, other] as const }];
  });
  return {
    paired: comparePaired(
      pairs.map((p) => p.predicted[0] === p.label),
      pairs.map((p) => p.predicted[1] === p.label),
    ),
    disagreements: pairs.filter((p) => (p.predicted[0] === p.label) !== (p.predicted[1] === p.label)),
  };
}

/** Every item's prediction in the items' order, from the run's [items, K] probabilities (NaN rows: unreadable). */
function scoredImages(items: readonly LabelledItem[], run: { probabilities: Float32Array; skipped: readonly SkippedFile[] }, labels: readonly string[], lookup: (label: string) => string | undefined): ScoredImage[] {
  const k = labels.length;
  const reasons = new Map(run.skipped.map((s) => [s.file, s.reason]));
  return items.map((item, i) => {
    const label = lookup(item.label)!;
    const row = run.probabilities.subarray(i * k, (i + 1) * k);
    if (Number.isNaN(row[0])) return { file: item.file, label, error: reasons.get(item.file) ?? 'not scored' };
    const best = argmax(row);
    return { file: item.file, label, predicted: labels[best]!, probability: row[best]!, labelProbability: row[labels.indexOf(label)]! };
  });
}

/**
 * A split dataset without its train/ (test/ and val/ only, say): its held-out folder by the same preference, when
 * every sub-folder is named like one and none is a class of the model. Else undefined (the folder is the classes).
 */
async function heldOutFolderOnly(dir: string, labels: readonly string[]): Promise<string | undefined> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => undefined);
  const folders = entries?.filter((e) => e.isDirectory() || e.isSymbolicLink()).map((e) => e.name) ?? [];
  if (!folders.length || !folders.every((name) => EVAL_FOLDER_NAMES.some((split) => isSplitName(name, split))) || folders.some((name) => labels.includes(name))) return undefined;
  const preferred = EVAL_FOLDER_NAMES.find((split) => folders.some((name) => isSplitName(name, split)))!;
  const candidates = splitCandidates(folders, preferred);
  assertOneSplitFolder(dir, candidates, preferred);
  return join(dir, candidates[0]!);
}
