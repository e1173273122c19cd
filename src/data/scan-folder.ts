import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { GraftError } from '../errors.js';
import { hasImageExtension, type LabelledDataset, type LabelledItem, type SkippedFile } from './dataset.js';

/** Shown in errors so users see the layout Graft expects, not just that theirs is wrong. */
export const EXPECTED_FOLDER_LAYOUT = [
  'photos/',
  '  cats/  img001.jpg img002.jpg ...',
  '  dogs/  img101.jpg img102.jpg ...',
].join('\n');

const NOT_AN_IMAGE = 'not an image file extension';

/**
 * Lists a dataset laid out as one subfolder per class (the torchvision `ImageFolder` layout).
 *
 * Class names are the subfolder names, sorted. Files are found recursively inside each class folder.
 * Hidden files and folders (names starting with '.') are ignored, as are their contents: they are
 * editor and OS clutter (.DS_Store, .ipynb_checkpoints), not data. Every other file that is not used is
 * listed in `skipped` with a reason: files with a non-image extension, and files at the top level that
 * belong to no class. Files are not opened here; {@link inspectDataset} or the decoder reports
 * unreadable ones.
 *
 * @param dir the dataset folder.
 * @throws GraftError `INVALID_DATASET` when the folder is missing or not a folder, has no class
 *   subfolders, has a class folder with no images, or has only one class.
 * @example
 * const ds = await scanImageFolder('./photos');
 * ds.labels; // ['cats', 'dogs']
 */
export async function scanImageFolder(dir: string): Promise<LabelledDataset> {
  const root = resolve(dir);
  await requireFolder(root);
  const entries = (await readdir(root, { withFileTypes: true })).filter((e) => !e.name.startsWith('.'));
  const skipped: SkippedFile[] = [];
  const classDirs: string[] = [];
  for (const entry of entries) {
    const full = join(root, entry.name);
    // Follow symlinks: a class folder may be a link into another disk.
    const isDir = entry.isDirectory() || (entry.isSymbolicLink() && (await isFolder(full)));
    if (isDir) classDirs.push(entry.name);
    else skipped.push({ file: full, reason: 'not inside a class folder' });
  }
  classDirs.sort();
  if (classDirs.length === 0) {
    throw new GraftError('INVALID_DATASET', `No class subfolders found in ${root}`, {
      hint: `put the images in one subfolder per class, named after the class:\n${EXPECTED_FOLDER_LAYOUT}`,
    });
  }
  const items: LabelledItem[] = [];
  for (const label of classDirs) {
    const files: string[] = [];
    await listFiles(join(root, label), files);
    files.sort();
    let count = 0;
    for (const file of files) {
      if (hasImageExtension(file)) {
        items.push({ file, label });
        count++;
      } else {
        skipped.push({ file, reason: NOT_AN_IMAGE });
      }
    }
    if (count === 0) {
      throw new GraftError('INVALID_DATASET', `Class folder "${label}" has no images: ${join(root, label)}`, {
        hint: `add images (.jpg, .png, .webp, ...) to ${join(root, label)} or remove that folder`,
      });
    }
  }
  requireTwoClasses(root, classDirs);
  return { root, labels: classDirs, items, skipped };
}

/** @throws GraftError `INVALID_DATASET` when fewer than two classes were found. */
export function requireTwoClasses(root: string, labels: readonly string[]): void {
  if (labels.length < 2) {
    throw new GraftError(
      'INVALID_DATASET',
      `Only one class ("${labels[0] ?? ''}") found in ${root}; a classifier needs at least two classes`,
      { hint: `add a second class folder next to "${labels[0] ?? ''}":\n${EXPECTED_FOLDER_LAYOUT}` },
    );
  }
}

async function requireFolder(root: string): Promise<void> {
  let info;
  try {
    info = await stat(root);
  } catch (error) {
    throw new GraftError('INVALID_DATASET', `Dataset folder not found: ${root}`, {
      hint: 'check the path; it should be a folder with one subfolder of images per class',
      cause: error,
    });
  }
  if (!info.isDirectory()) {
    throw new GraftError('INVALID_DATASET', `Dataset path is not a folder: ${root}`, {
      hint: 'pass a folder with one subfolder of images per class, or a .csv file of path,label lines',
    });
  }
}

async function isFolder(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function listFiles(dir: string, out: string[]): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory() || (entry.isSymbolicLink() && (await isFolder(full)))) await listFiles(full, out);
    else out.push(full);
  }
}
