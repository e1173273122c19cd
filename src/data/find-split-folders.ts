import { readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { GraftError } from '../core/errors.js';
import { hasImageExtension } from './dataset.js';
import { isManifestPath, type ManifestPart } from './manifest.js';
import { hasUnusedTestRows } from './scan-csv.js';
import { folderManifest } from './scan-dataset.js';
import { isClutter } from './scan-folder.js';

/** Folder names recognised as a held-out split next to `train/`, in order of preference. */
export const VAL_FOLDER_NAMES: readonly string[] = ['val', 'valid', 'validation', 'test'];

/**
 * The same names in the order evaluation prefers: a dataset split three ways (train/, valid/, test/, as Roboflow and
 * many Kaggle sets are) is scored on the test set that training never saw, not on its validation set.
 */
export const EVAL_FOLDER_NAMES: readonly string[] = ['test', 'val', 'valid', 'validation'];

/**
 * Detects a dataset that is already split: `dir/train/<class>/...` plus `dir/val|valid|validation|test/<class>/...`.
 * Existing splits win over a random split (the dataset's authors chose them), so callers check this first. A class
 * named "train" (vehicle types have one) is not a split: see {@link isTrainSplit}.
 * @param names the held-out folder names to look for, in order of preference.
 * @returns the train and (if present) validation folders, or undefined when `dir` is not split (no `train/`, or a
 *   class folder of that name).
 */
export async function findSplitFolders(dir: string, names: readonly string[] = VAL_FOLDER_NAMES): Promise<{ train: string; val: string | undefined } | undefined> {
  const root = resolve(dir);
  const entries = await readdir(root).catch(() => [] as string[]);
  const train = await splitFolder(root, entries, 'train');
  if (train === undefined || !(await isTrainSplit(root, entries, train))) return undefined;
  for (const name of names) {
    const val = await splitFolder(root, entries, name);
    if (val !== undefined) return { train, val };
  }
  return { train, val: undefined };
}

/**
 * Whether a folder name is the split `name`, compared without case: Windows users and many Kaggle sets write `Train/`
 * and `Test/`, and read as classes those would train a "Train" against "Test" classifier on the test images.
 */
export const isSplitName = (folder: string, name: string): boolean => folder.toLowerCase() === name;

/** The entries that are the split `name`, the exact name first, then those differing only in case. */
export function splitCandidates(entries: readonly string[], name: string): string[] {
  const matches = entries.filter((entry) => isSplitName(entry, name));
  return [...matches.filter((entry) => entry === name), ...matches.filter((entry) => entry !== name)];
}

/**
 * The folder `root/<name>` of a split among `entries` (root's), found without regard to case; undefined when none.
 * @throws GraftError INVALID_DATASET for two of them ({@link assertOneSplitFolder}).
 */
async function splitFolder(root: string, entries: readonly string[], name: string): Promise<string | undefined> {
  const folders: string[] = [];
  for (const entry of splitCandidates(entries, name)) {
    if (await isFolder(join(root, entry))) folders.push(entry);
  }
  assertOneSplitFolder(root, folders, name);
  return folders.length ? join(root, folders[0]!) : undefined;
}

/**
 * Refuses two folders of `root` that are one split (`train/` and `Train/`): reading either would leave the other's
 * images out without a word, and on macOS or Windows they are one folder.
 * @param folders the folders of `root` that {@link isSplitName} matches to `name`.
 * @throws GraftError INVALID_DATASET naming both.
 */
export function assertOneSplitFolder(root: string, folders: readonly string[], name: string): void {
  if (folders.length < 2) return;
  throw new GraftError('INVALID_DATASET', `${root} holds ${folders.map((f) => `${f}/`).join(' and ')}, folders whose names differ only in case; Graft would read one and leave the other's images out (on macOS and Windows they are one folder).`, {
    hint: `merge them into one ${name}/ folder, or rename one`,
  });
}

/**
 * The `test/` folder beside `dir/train/` when training did not score it (the dataset also has `val/` or `valid/`,
 * `--val` named another folder, or `--val-split` held out training images): the untouched set for `graft eval`.
 * @param val the folder training scored as validation; undefined when it scored none.
 */
export async function unusedTestFolder(dir: string, val: string | undefined): Promise<string | undefined> {
  const root = resolve(dir);
  const entries = await readdir(root).catch(() => [] as string[]);
  const train = await splitFolder(root, entries, 'train');
  const test = await splitFolder(root, entries, 'test');
  if (train === undefined || test === undefined || !(await isTrainSplit(root, entries, train))) return undefined;
  return val !== undefined && resolve(val) === test ? undefined : test;
}

/**
 * The dataset's untouched test images, which the `next:` line of `graft train` offers to `graft eval`: a split
 * folder's unused `test/` ({@link unusedTestFolder}), or the data itself when it is (or is a folder labelled by) a
 * manifest whose test rows training did not score.
 * @param source where training's validation images came from (`TrainResult.data`).
 */
export async function unusedTestData(data: string, source: { readonly val: string | null; readonly valPart?: ManifestPart }): Promise<string | undefined> {
  const manifest = isManifestPath(data) ? data : await folderManifest(data);
  if (manifest !== undefined) return (await hasUnusedTestRows(manifest, source)) ? data : undefined;
  return unusedTestFolder(data, source.val ?? undefined);
}

/**
 * Whether `train` (`root/train`, in any case; `entries` are root's) is the training part of a split set rather than a
 * class folder named "train": every other
 * folder beside it is a held-out split (val, valid, validation, test), or it holds folders and no loose images (a
 * split set with another folder beside it, such as Kaggle's `sample/`).
 */
async function isTrainSplit(root: string, entries: readonly string[], train: string): Promise<boolean> {
  const beside = entries.filter((name) => join(root, name) !== train && !isClutter(name));
  const besideFolders = (await Promise.all(beside.map(async (name) => ((await isFolder(join(root, name))) ? [name] : [])))).flat();
  if (besideFolders.every((name) => VAL_FOLDER_NAMES.some((split) => isSplitName(name, split)))) return true;
  // Folders beside it that are not split names: only a lower-case train/ holding folders is still a split (Kaggle's
  // sample/ beside it); a `Train/` among `Bus/` and `Car/` is the class of trains, whatever it holds.
  if (basename(train) !== 'train') return false;
  const inside = (await readdir(train)).filter((name) => !isClutter(name));
  if (inside.some(hasImageExtension)) return false;
  return (await Promise.all(inside.map((name) => isFolder(join(train, name))))).some(Boolean);
}

async function isFolder(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
