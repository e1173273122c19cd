import { stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { GraftError } from '../core/errors.js';
import { fileNamePattern } from '../core/file-name-pattern.js';
import { optionExample, optionName } from '../core/option-name.js';
import type { LabelledDataset, LabelledItem, SkippedFile } from './dataset.js';
import { listImageFiles } from './scan-folder.js';

/** A pattern of Oxford-IIIT Pets' names, as a hint's example. */
const PETS_EXAMPLE = optionExample('labelPattern', '^(.+)_\\d+\\.jpg$', "'^(.+)_\\d+\\.jpg$'");

/** Options of {@link scanNamedImages}. */
export interface ScanNamedOptions {
  /** One class (a test set of one kind) is not an error: what scoring a model needs. Defaults to false. */
  readonly isLenient?: boolean;
}

/**
 * Lists a folder of images whose class is in each file's name, as fastai's `ImageDataLoaders.from_name_re` reads
 * them: the label is the first capture group of `pattern` (else its whole match) on the file's base name. On
 * Oxford-IIIT Pets, `'^(.+)_\d+\.jpg$'` reads `Abyssinian_12.jpg` as "Abyssinian". Sub-folders are searched too;
 * a file the pattern does not match, or matches with an empty label, is skipped with the reason.
 *
 * @throws GraftError `INVALID_CONFIG` for a pattern that is not a regular expression; `INVALID_DATASET` when the
 *   folder is missing, no file name matches, or (unless `isLenient`) the names give one class only.
 * @example
 * const pets = await scanNamedImages('oxford-pets/images', '^(.+)_\\d+\\.jpg$');
 */
export async function scanNamedImages(dir: string, pattern: string, options: ScanNamedOptions = {}): Promise<LabelledDataset> {
  const labelOf = fileNamePattern('labelPattern', pattern, `e.g. ${PETS_EXAMPLE} (the first capture group is the class)`);
  const named = `${optionName('labelPattern')} ${pattern}`;
  const root = resolve(dir);
  if (!(await stat(root).then((s) => s.isDirectory(), () => false))) {
    throw new GraftError('INVALID_DATASET', `Folder not found: ${root}`, { hint: `${optionName('labelPattern')} reads the labels from the names of the images in a folder` });
  }
  const { files, skipped } = await listImageFiles(root);
  const items: LabelledItem[] = [];
  const unmatched: SkippedFile[] = [];
  for (const file of files) {
    const label = (labelOf(basename(file)) ?? '').trim();
    if (label === '') unmatched.push({ file, reason: `the name does not match ${named}` });
    else items.push({ file, label });
  }
  if (items.length === 0) {
    const example = files[0] === undefined ? '' : ` (e.g. "${basename(files[0])}")`;
    throw new GraftError('INVALID_DATASET', `No image name in ${root} matches ${named}${files.length ? `: ${files.length} images${example}` : ': the folder has no images'}`, {
      hint: `the pattern's first capture group is the class, e.g. ${PETS_EXAMPLE} reads Abyssinian_12.jpg as Abyssinian`,
    });
  }
  const labels = [...new Set(items.map((item) => item.label))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (labels.length < 2 && !options.isLenient) {
    throw new GraftError('INVALID_DATASET', `${named} reads one class ("${labels[0]}") from the image names in ${root}; a classifier needs at least two`, {
      hint: 'check that the capture group holds the class, not the whole name or a shared prefix',
    });
  }
  // Every image a class of its own: the pattern read whole names (no capture group, or one around the number).
  if (labels.length === items.length && items.length > 2 && !options.isLenient) {
    throw new GraftError('INVALID_DATASET', `${named} reads a different class from every image name in ${root} (${items.length} images, ${labels.length} classes, e.g. "${labels[0]}")`, {
      hint: `put the class part of the name in a capture group and leave the rest out, e.g. ${PETS_EXAMPLE} reads Abyssinian_12.jpg as Abyssinian`,
    });
  }
  return { root, labels, items, skipped: [...skipped, ...unmatched] };
}
