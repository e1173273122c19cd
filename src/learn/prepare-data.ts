import { compareUtf8 } from '../core/compare-utf8.js';
import { createHash } from 'node:crypto';
import { relative } from 'node:path';
import type { LabelledDataset, LabelledItem, SkippedFile } from '../data/dataset.js';
import { findSplitFolders } from '../data/find-split-folders.js';
import type { ManifestPart } from '../data/manifest.js';
import { describeCounts } from '../data/scan-csv.js';
import { scanDataset } from '../data/scan-dataset.js';
import { alignLabels, stratifiedSplit } from '../data/split.js';
import { GraftError } from '../core/errors.js';
import { optionExample, optionName } from '../core/option-name.js';
import { groupKeys } from './select/folds.js';
import type { ProgressListener } from '../core/progress.js';

export interface DataSplit {
  readonly labels: string[];
  readonly train: LabelledItem[];
  readonly val: LabelledItem[];
  readonly skipped: SkippedFile[];
  /** Where each part came from, for the manifest; `labelPattern` when the labels came from the file names. */
  readonly source: DataSource;
  /**
   * sha256 of each readable image by file (train and val), when the caller gave `hashFiles`: copies of one image are
   * kept on one side of every internal split (see foldGroups).
   */
  readonly sha256?: ReadonlyMap<string, string>;
}

/**
 * Where training's images came from: the train and validation folders or manifests, the fraction split off when
 * there was no validation set, `labelPattern` when the labels came from the file names, and `valPart` when the
 * validation images are rows of a split manifest (its val or test rows).
 */
export interface DataSource {
  readonly train: string;
  readonly val: string | null;
  readonly valSplit: number | null;
  readonly labelPattern?: string;
  readonly valPart?: ManifestPart;
  /**
   * With a `valSplit`: which images it held out (sha256 of their sorted names relative to `train`), so `graft report` can tell whether drawing
   * the split again from the folder as it is now gives the same images (it does not once images were added or removed).
   */
  readonly heldOutDigest?: string;
}

/**
 * Where validation images come from, if anywhere: a folder or manifest scored as it is (`val`), or a fraction of the
 * training images held out (`valSplit`), never both. The type refuses both; {@link validationSource} refuses them at
 * run time, for JavaScript callers.
 */
export type ValidationSource = { readonly val?: string; readonly valSplit?: never } | { readonly val?: never; readonly valSplit?: number };

/**
 * `val` and `valSplit` as a {@link ValidationSource}: what the CLI's flags (and an untyped caller's options) become.
 * @throws GraftError `INVALID_CONFIG` naming both options when both are given.
 */
export function validationSource(val: string | undefined, valSplit: number | undefined): ValidationSource {
  if (val !== undefined && valSplit !== undefined) {
    throw new GraftError('INVALID_CONFIG', `Pass either ${optionName('val')} or ${optionName('valSplit')}, not both. Received: ${JSON.stringify(val)} and ${valSplit}`, {
      hint: 'val names a folder (or manifest) of images to score; valSplit holds out a fraction of the training images instead',
    });
  }
  return val !== undefined ? { val } : valSplit !== undefined ? { valSplit } : {};
}

/** What {@link prepareData} reads: the training set, and where validation images come from, if anywhere. */
export type PrepareDataOptions = PrepareDataSettings & ValidationSource;

interface PrepareDataSettings {
  readonly train: string;
  readonly seed: number;
  readonly labelPattern?: string;
  /** `--group-by`: a `valSplit` holds out whole groups (a GTSRB track), as every internal split does. */
  readonly groupBy?: string;
  /** Folders images may be read from (see ScanDatasetOptions.confineTo); the dashboard's data roots. */
  readonly confineTo?: readonly string[];
  /**
   * sha256 of each file (undefined where unreadable): copies of one image (the same bytes under two names) are held
   * out together or not at all, by a `valSplit` and by cross-validation, else the held-out score counts images the
   * model trained on.
   */
  readonly hashFiles?: (files: readonly string[]) => Promise<(string | undefined)[]>;
}

/** The parts of a split manifest that validate training, in order of preference (as VAL_FOLDER_NAMES). */
const HELD_OUT_PARTS: readonly ManifestPart[] = ['val', 'test'];

/**
 * Train and validation items from what the user gave. A dataset folder holding `train/` trains on that. The validation
 * images are an explicit `--val` folder; else a seeded stratified `valSplit` of the training images, when asked
 * for; else the dataset's own `val/` (or valid/validation/test) folder; else none (every image trains, and
 * cross-validation on them estimates accuracy). A manifest with a split column trains on its train rows and, like a
 * split folder, validates on its val rows (else its test rows). With `labelPattern`, both take their labels from the
 * image names (see scanNamedImages); with `groupBy`, a `valSplit` holds out whole groups. Validation images are only
 * scored: nothing is chosen on them.
 */
export async function prepareData(options: PrepareDataOptions): Promise<DataSplit> {
  validationSource(options.val, options.valSplit);
  let trainPath = options.train;
  let valPath = options.val;
  // A dataset folder with train/ trains on train/, with --val or --val-split too (its class folders are in there).
  const split = await findSplitFolders(trainPath);
  if (split) {
    trainPath = split.train;
    if (valPath === undefined && options.valSplit === undefined) valPath = split.val;
  }
  const { labelPattern, confineTo } = options;
  const named = labelPattern === undefined ? {} : { labelPattern };
  const train = inCanonicalOrder(await scanDataset(trainPath, { labelPattern, parts: ['train'], confineTo }));
  // A split manifest's own held-out rows, as a split folder's val/ (or test/).
  const ownHeldOut = train.split && (train.split.counts.val > 0 || train.split.counts.test > 0);
  if (ownHeldOut && valPath === undefined && options.valSplit === undefined) valPath = train.root;
  if (valPath !== undefined) {
    // Validation images are only scored: some of the classes, even one, will do (as for graft eval).
    const val = inCanonicalOrder(await scanDataset(valPath, { isLenient: true, labelPattern, parts: HELD_OUT_PARTS, confineTo }));
    if (val.split && val.split.part === undefined) {
      throw new GraftError('INVALID_DATASET', `${val.root} has no val or test rows in its split column to validate on (${describeCounts(val.split.counts)})`, {
        hint: `pass a manifest or folder of held-out images as ${optionName('val')}, or mark them as valid in the split column`,
      });
    }
    const aligned = alignLabels(train, val);
    const valPart = val.split?.part;
    const valFiles = aligned.val.items.map((item) => item.file);
    const hashed = await hashesOf([...train.items.map((item) => item.file), ...valFiles], options.hashFiles);
    return {
      labels: aligned.train.labels,
      train: aligned.train.items,
      val: aligned.val.items,
      skipped: [...train.skipped, ...aligned.val.skipped],
      source: { train: train.root, val: aligned.val.root, valSplit: null, ...named, ...(valPart ? { valPart } : {}) },
      ...(hashed ? { sha256: hashed.byFile } : {}),
    };
  }
  const valSplit = checkValSplit(options.valSplit ?? 0);
  const files = train.items.map((item) => item.file);
  const hashed = await hashesOf(files, options.hashFiles);
  const groups = valSplit > 0 ? valSplitGroups(files, options.groupBy, hashed?.hashes) : undefined;
  const parts = valSplit === 0 ? { train: train.items, val: [] } : stratifiedSplit(train.items, { valFraction: valSplit, seed: options.seed, ...(groups ? { groups } : {}) });
  const digest = valSplit > 0 ? { heldOutDigest: heldOutDigest(train.root, parts.val) } : {};
  return {
    labels: train.labels,
    ...parts,
    skipped: train.skipped,
    source: { train: train.root, val: null, valSplit, ...named, ...digest },
    ...(hashed ? { sha256: hashed.byFile } : {}),
  };
}

async function hashesOf(files: readonly string[], hashFiles: PrepareDataSettings['hashFiles']): Promise<{ hashes: (string | undefined)[]; byFile: Map<string, string> } | undefined> {
  if (!hashFiles) return undefined;
  const hashes = await hashFiles(files);
  const byFile = new Map<string, string>();
  hashes.forEach((hash, i) => hash && byFile.set(files[i]!, hash));
  return { hashes, byFile };
}

/**
 * A held-out fraction, checked: `train` and `trainFromFeatures` refuse one outside [0, 1) alike.
 * @throws GraftError `INVALID_CONFIG` naming valSplit (--val-split) and the value.
 */
export function checkValSplit(valSplit: number): number {
  if (valSplit >= 0 && valSplit < 1) return valSplit;
  throw new GraftError('INVALID_CONFIG', `${optionName('valSplit')} must be in [0, 1). Received: ${valSplit}`, { hint: `e.g. ${optionExample('valSplit', 0.2)}` });
}

/**
 * The dataset's images by class, then path in UTF-8 byte order: the order a class folder lists and a feature store
 * reads its rows in. The folds are drawn over this order, so a manifest's rows, shuffled, give the same model.
 */
function inCanonicalOrder(dataset: LabelledDataset): LabelledDataset {
  const rank = new Map(dataset.labels.map((label, i) => [label, i]));
  const at = (label: string): number => rank.get(label) ?? rank.size;
  const items = [...dataset.items].sort((a, b) => at(a.label) - at(b.label) || compareUtf8(a.file, b.file));
  return { ...dataset, items };
}

/** sha256 of the held-out images' names relative to the training root, sorted: the same images, the same digest. */
function heldOutDigest(root: string, items: readonly LabelledItem[]): string {
  const names = items.map((item) => relative(root, item.file)).sort();
  return createHash('sha256').update(names.join('\n')).digest('hex');
}

export type { LabelledDataset };

/**
 * The groups a `valSplit` keeps whole: `--group-by`'s (else each image its own), joined where files are copies (the
 * same sha256). A joined group is named by its smallest key, so the groups do not depend on the order of `files`
 * (a feature store lists its rows shard by shard). Undefined when there is nothing to group by.
 */
export function valSplitGroups(files: readonly string[], groupBy: string | undefined, hashes: readonly (string | null | undefined)[] | undefined, onProgress?: ProgressListener): string[] | undefined {
  if (groupBy === undefined && hashes === undefined) return undefined;
  const keys = groupBy !== undefined ? groupKeys(files, groupBy, onProgress) : files.map((file) => `f:${file}`);
  if (hashes === undefined) return keys;
  const parent = new Map<string, string>();
  const root = (key: string): string => {
    let r = key;
    while (parent.get(r) !== undefined && parent.get(r) !== r) r = parent.get(r)!;
    if (r !== key) parent.set(key, r);
    return r;
  };
  const firstKeyOf = new Map<string, string>();
  hashes.forEach((hash, i) => {
    if (!hash) return;
    const first = firstKeyOf.get(hash);
    if (first === undefined) {
      firstKeyOf.set(hash, keys[i]!);
      return;
    }
    const [a, b] = [root(first), root(keys[i]!)];
    if (a !== b) parent.set(a < b ? b : a, a < b ? a : b);
  });
  return keys.map(root);
}

/**
 * The groups every internal split of the training images keeps whole (cross-validation's folds, the MLP's and
 * fine-tuning's holdouts), as {@link valSplitGroups} makes them: `--group-by`'s, joined where files are copies of one
 * image, else an estimate counts images the head trained on (a folder of copies scored 1.000 out of fold, and its
 * wrong labels went unlisted). Undefined when there is neither, so that such data is split image by image, as before.
 * With `onProgress`, file names `--group-by` misses are reported.
 */
export function foldGroups(files: readonly string[], groupBy: string | undefined, sha256: ReadonlyMap<string, string> | undefined, onProgress?: ProgressListener): string[] | undefined {
  const hashes = sha256 ? files.map((file) => sha256.get(file)) : undefined;
  const seen = new Set<string>();
  const hasCopies = hashes?.some((hash) => hash !== undefined && (seen.has(hash) || !seen.add(hash))) ?? false;
  if (groupBy === undefined && !hasCopies) return undefined;
  return valSplitGroups(files, groupBy, hasCopies ? hashes : undefined, onProgress);
}
