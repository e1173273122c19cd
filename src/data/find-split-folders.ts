import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** Folder names recognised as a held-out split next to `train/`, in order of preference. */
export const VAL_FOLDER_NAMES: readonly string[] = ['val', 'valid', 'validation', 'test'];

/**
 * Detects a dataset that is already split: `dir/train/<class>/...` plus `dir/val|valid|validation|test/<class>/...`.
 * Existing splits win over a random split (the dataset's authors chose them), so callers check this first.
 * @returns the train and (if present) validation folders, or undefined when `dir` has no `train/` folder.
 */
export async function findSplitFolders(dir: string): Promise<{ train: string; val: string | undefined } | undefined> {
  const root = resolve(dir);
  const train = join(root, 'train');
  if (!(await isFolder(train))) return undefined;
  for (const name of VAL_FOLDER_NAMES) {
    const val = join(root, name);
    if (await isFolder(val)) return { train, val };
  }
  return { train, val: undefined };
}

async function isFolder(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
