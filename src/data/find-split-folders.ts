import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** Folder names recognised as a held-out split next to `train/`, in order of preference. */
export const VAL_FOLDER_NAMES: readonly string[] = ['val', 'valid', 'validation', 'test'];

/**
 * The same names in the order evaluation prefers: a dataset split three ways (train/, valid/, test/, as Roboflow and
 * many Kaggle sets are) is scored on the test set that training never saw, not on its validation set.
 */
export const EVAL_FOLDER_NAMES: readonly string[] = ['test', 'val', 'valid', 'validation'];

/**
 * Detects a dataset that is already split: `dir/train/<class>/...` plus `dir/val|valid|validation|test/<class>/...`.
 * Existing splits win over a random split (the dataset's authors chose them), so callers check this first.
 * @param names the held-out folder names to look for, in order of preference.
 * @returns the train and (if present) validation folders, or undefined when `dir` has no `train/` folder.
 */
export async function findSplitFolders(dir: string, names: readonly string[] = VAL_FOLDER_NAMES): Promise<{ train: string; val: string | undefined } | undefined> {
  const root = resolve(dir);
  const train = join(root, 'train');
  if (!(await isFolder(train))) return undefined;
  for (const name of names) {
    const val = join(root, name);
    if (await isFolder(val)) return { train, val };
  }
  return { train, val: undefined };
}

/**
 * The `test/` folder beside `dir/train/` when training did not score it (the dataset also has `val/` or `valid/`,
 * `--val` named another folder, or `--val-split` held out training images): the untouched set for `graft eval`.
 * @param val the folder training scored as validation; undefined when it scored none.
 */
export async function unusedTestFolder(dir: string, val: string | undefined): Promise<string | undefined> {
  const root = resolve(dir);
  const test = join(root, 'test');
  if (!(await isFolder(join(root, 'train'))) || !(await isFolder(test))) return undefined;
  return val !== undefined && resolve(val) === test ? undefined : test;
}

async function isFolder(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
