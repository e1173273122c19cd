import { GraftError } from '../core/errors.js';
import { optionName } from '../core/option-name.js';
import { makePreprocessing } from '../core/preprocessing.js';
import type { LabelledDataset, SkippedFile } from './dataset.js';
import type { ClassSummary, DatasetSummary, PartSummary } from './dataset-summary.js';
import { readAndDecode } from './decode-stream.js';
import { describeDuplicates, findDuplicates, hashFiles, type HashedItem } from './find-duplicates.js';
import { findSplitFolders, unusedTestFolder } from './find-split-folders.js';
import { folderManifest, scanDataset } from './scan-dataset.js';
import { inspectManifest } from './inspect-manifest.js';
import { isManifestPath } from './manifest.js';
import { lookAlikeLabels } from './scan-folder.js';
import { labelLookup } from './split.js';

/** Options for {@link inspectDataset}. */
export interface InspectOptions {
  /** Decode every file (at a small size) to find unreadable ones. Defaults to true. */
  readonly checkDecode?: boolean;
  /** Files decoded at once. Defaults to 4. */
  readonly concurrency?: number;
  /** Called after each file is checked, for a progress bar. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Labels from the image names instead of class folders (see scanNamedImages). */
  readonly labelPattern?: string;
}

export type { ClassSummary, DatasetSummary, PartSummary } from './dataset-summary.js';

/** Classes smaller than this get a warning: a validation split of them is mostly noise. */
const SMALL_CLASS = 5;

/**
 * Summarises a dataset before training: classes and counts, every skipped file with its reason, and
 * (unless `checkDecode` is false) every file that does not decode. Works on a class-per-folder
 * directory, a `train/` + `val/` (or `test/`) directory, or a `path,label` CSV.
 *
 * Decoding runs at 32 x 32: libjpeg's shrink-on-load makes that several times faster than the model's
 * size while still reading the whole file, so truncation and corruption are still found.
 *
 * @throws GraftError `INVALID_DATASET` for the same problems as {@link scanDataset}.
 */
export async function inspectDataset(path: string, options: InspectOptions = {}): Promise<DatasetSummary> {
  const { labelPattern } = options;
  // A manifest, or a folder of loose images labelled by the one inside it (see folderManifest).
  const table = labelPattern !== undefined ? undefined : isManifestPath(path) ? path : await folderManifest(path);
  if (table !== undefined) {
    // Streamed: a manifest may list millions of files (see inspectManifest).
    const parts = await inspectManifest(table, { checkDecode: options.checkDecode ?? true, concurrency: options.concurrency, onProgress: options.onProgress });
    const trainPart = parts.find((p) => p.name === 'train' || p.name === 'all');
    if (!trainPart) throw new GraftError('INVALID_DATASET', `${parts[0]!.root} has no train rows in its split column`, { hint: 'mark the rows to train on as train in the split column' });
    const warnings: string[] = [];
    // Reported among the warnings with the rest (the missing files above all), where training stops at the first.
    warnings.push(...tooFewClasses(trainPart.name, trainPart.classes));
    for (const part of parts) {
      const prefix = part.name === 'all' ? '' : `${part.name}: `;
      warnings.push(...part.classes.filter((c) => (c.readable ?? c.count) < SMALL_CLASS).map((c) => smallClassWarning(prefix, c.label, c.readable ?? c.count)));
      if (part.urlCount) warnings.push(`${prefix}${part.urlCount} listed images are URLs: fetch them with graft download ${parts[0]!.root} --out <folder>, then inspect or train on <folder>/manifest.csv`);
      if (part.skippedCount > part.skipped.length) warnings.push(`${prefix}${part.skippedCount} listed files cannot be read; the first ${part.skipped.length} are shown`);
      if (part.unreadableCount > part.unreadable.length) warnings.push(`${prefix}${part.unreadableCount} files do not decode; the first ${part.unreadable.length} are shown`);
    }
    warnings.push(...heldOutClassWarnings(parts));
    // Duplicates need every file hashed; a streamed manifest of millions is not (folders are).
    return { path, layout: 'csv', parts, warnings, duplicates: [] };
  }
  const split = await findSplitFolders(path);
  const scans: { name: PartSummary['name']; dataset: LabelledDataset }[] = [];
  if (split) {
    // Lenient: an empty class folder or a single class is reported among the warnings, with everything else, where
    // training stops at the first.
    scans.push({ name: 'train', dataset: await scanDataset(split.train, { isLenient: true, labelPattern }) });
    if (split.val) scans.push({ name: 'val', dataset: await scanDataset(split.val, { isLenient: true, labelPattern }) });
    // A set split three ways: its test/ is checked too, above all for images also in train/.
    const test = await unusedTestFolder(path, split.val);
    if (test) scans.push({ name: 'test', dataset: await scanDataset(test, { isLenient: true, labelPattern }) });
  } else {
    scans.push({ name: 'all', dataset: await scanDataset(path, { isLenient: true, labelPattern }) });
  }
  const checkDecode = options.checkDecode ?? true;
  const total = scans.reduce((n, s) => n + s.dataset.items.length, 0);
  let done = 0;
  const parts: PartSummary[] = [];
  const warnings: string[] = [];
  const hashed: HashedItem[] = [];
  for (const { name, dataset } of scans) {
    const unreadable: SkippedFile[] = [];
    const files = dataset.items.map((item) => item.file);
    // The decode check reads every file anyway, so the content hashes for finding duplicates come free with it.
    const hashes: (string | undefined)[] = checkDecode ? new Array(files.length) : await hashFiles(files, options.concurrency ?? 4);
    if (checkDecode) {
      const pre = makePreprocessing({ inputSize: 32, scale: '0..1', layout: 'nhwc' });
      const decoding = readAndDecode(files, pre, {
        concurrency: options.concurrency ?? 4,
        onSkip: ({ file, reason }) => {
          unreadable.push({ file, reason });
          options.onProgress?.(++done, total);
        },
      });
      for await (const item of decoding) {
        hashes[item.index] = item.sha256;
        options.onProgress?.(++done, total);
      }
    }
    dataset.items.forEach((item, i) => hashed.push({ file: item.file, label: item.label, part: name, sha256: hashes[i] }));
    const bad = new Set(unreadable.map((u) => u.file));
    const classes = dataset.labels.map((label) => {
      const files = dataset.items.filter((item) => item.label === label);
      const readable = checkDecode ? files.filter((item) => !bad.has(item.file)).length : undefined;
      const usable = readable ?? files.length;
      const prefix = name === 'all' ? '' : `${name}: `;
      if (files.length === 0) warnings.push(`${prefix}class folder "${label}" has no images: training refuses it; add images or remove the folder`);
      else if (usable < SMALL_CLASS) warnings.push(smallClassWarning(prefix, label, usable));
      return { label, count: files.length, readable };
    });
    if (name === 'train' || name === 'all') warnings.push(...tooFewClasses(name, classes));
    // As training refuses it (scan-named): the pattern read whole names, so every image is a class of its own.
    if (labelPattern !== undefined && dataset.items.length > 2 && dataset.labels.length === dataset.items.length) {
      warnings.push(`${name === 'all' ? '' : `${name}: `}${optionName('labelPattern')} reads a different class from every image name (${dataset.items.length} images, ${dataset.labels.length} classes): training refuses this; put only the class part of the name in the capture group`);
    }
    parts.push({
      name,
      root: dataset.root,
      labels: dataset.labels,
      classes,
      imageCount: dataset.items.length,
      skipped: dataset.skipped,
      unreadable,
      skippedCount: dataset.skipped.length,
      unreadableCount: unreadable.length,
    });
  }
  warnings.push(...heldOutClassWarnings(parts));
  const duplicates = findDuplicates(hashed);
  if (duplicates.length) warnings.push(...describeDuplicates(duplicates));
  const layout = split ? 'train-val-folders' : labelPattern !== undefined ? 'file-names' : 'class-folders';
  return { path, layout, parts, warnings, duplicates };
}

/** The warning for a class with few usable images; with none, that training refuses it (its files are listed as unreadable). */
function smallClassWarning(prefix: string, label: string, usable: number): string {
  if (usable === 0) return `${prefix}class "${label}" has no usable image: training refuses it; replace its unreadable files or remove the class`;
  return `${prefix}class "${label}" has only ${usable} usable image${usable === 1 ? '' : 's'}`;
}

/** The warning that a part training reads has fewer than two classes with usable images, as a list of 0 or 1. */
function tooFewClasses(name: PartSummary['name'], classes: readonly ClassSummary[]): string[] {
  const trainable = classes.filter((c) => (c.readable ?? c.count) > 0).length;
  return trainable < 2 ? [`${name === 'all' ? '' : 'train: '}${trainable} class${trainable === 1 ? '' : 'es'} with images: training needs at least 2`] : [];
}

/**
 * Warnings for held-out parts (val, test) whose classes differ from train's, and for class names in one part that
 * print alike (Unicode forms: training refuses them; case only: two classes, perhaps by mistake).
 */
function heldOutClassWarnings(parts: readonly PartSummary[]): string[] {
  const warnings: string[] = [];
  for (const part of parts) {
    const prefix = parts.length > 1 ? `${part.name}: ` : '';
    const unicode = lookAlikeLabels(part.labels);
    for (const [a, b] of unicode) warnings.push(`${prefix}classes ${JSON.stringify(a)} and ${JSON.stringify(b)} are one name in two Unicode forms: training refuses them; merge the folders`);
    const unicodePairs = new Set(unicode.map((pair) => pair.join('\u0000')));
    for (const [a, b] of lookAlikeLabels(part.labels, true)) {
      if (!unicodePairs.has(`${a}\u0000${b}`)) warnings.push(`${prefix}classes ${JSON.stringify(a)} and ${JSON.stringify(b)} differ only in case: they are two classes`);
    }
  }
  const train = parts.find((p) => p.name === 'train');
  if (!train) return warnings;
  // Matched as training and eval match them: a name in another Unicode form (NFD from macOS) is the same class.
  const inTrain = labelLookup(train.labels);
  for (const heldOut of parts.filter((p) => p.name === 'val' || p.name === 'test')) {
    const extra = heldOut.labels.filter((label) => inTrain(label) === undefined);
    if (extra.length > 0) warnings.push(`${heldOut.name} has classes that train does not: ${extra.join(', ')} (${heldOut.name === 'val' ? 'training' : 'graft eval'} will refuse this)`);
    const inHeldOut = labelLookup(heldOut.labels);
    const missing = train.labels.filter((label) => inHeldOut(label) === undefined);
    if (missing.length > 0) warnings.push(`${heldOut.name} has no images of: ${missing.join(', ')}`);
  }
  return warnings;
}
