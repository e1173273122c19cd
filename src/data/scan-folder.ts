import { compareUtf8 } from '../core/compare-utf8.js';
import { isWithin } from '../core/is-within.js';
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { GraftError } from '../core/errors.js';
import { optionExample } from '../core/option-name.js';
import { hasImageExtension, type LabelledDataset, type LabelledItem, type SkippedFile } from './dataset.js';
import { isManifestPath } from './manifest.js';

/** Shown in errors so users see the layout Graft expects, not just that theirs is wrong. */
export const EXPECTED_FOLDER_LAYOUT = [
  'photos/',
  '  cats/  img001.jpg img002.jpg ...',
  '  dogs/  img101.jpg img102.jpg ...',
].join('\n');

const NOT_AN_IMAGE = 'not an image file extension';

/**
 * What systems and tools write beside a user's files, lower-cased (Windows compares names without case): macOS's zip
 * metadata and folder icon, a Synology NAS's thumbnails, a Windows drive's recycle bin and restore points, Explorer's
 * thumbnail caches and folder settings, and a Linux file system's lost+found.
 */
const TOOL_CLUTTER: ReadonlySet<string> = new Set(['__macosx', 'icon\r', '@eadir', '$recycle.bin', 'system volume information', 'thumbs.db', 'ehthumbs.db', 'desktop.ini', 'lost+found']);

/** Whether an entry is clutter, not data: hidden (a name starting with '.') or a {@link TOOL_CLUTTER} name. */
export const isClutter = (name: string): boolean => name.startsWith('.') || TOOL_CLUTTER.has(name.toLowerCase());

/**
 * Why an entry cannot be read: its name is not UTF-8 (a zip made on Windows, unpacked here), so Node hands it over
 * with U+FFFD in place of the bytes it could not decode, and that name opens nothing.
 */
export const NOT_UTF8 = 'the file name is not valid UTF-8 (written in another code page, e.g. by a Windows zip tool); rename it, e.g. with convmv -f cp1252 -t utf8 --notest -r <folder>';

/** Whether a listed name is one Node could not decode, so the file cannot be opened by it. */
export async function isUndecodableName(path: string, name: string): Promise<boolean> {
  return name.includes('\uFFFD') && !(await lstat(path).then(() => true, () => false));
}

/** Options of {@link scanImageFolder}. */
export interface ScanFolderOptions {
  /**
   * List what is there without requiring a trainable dataset: empty class folders and a single class are not
   * errors (a dashboard project being filled class by class). Defaults to false.
   */
  readonly isLenient?: boolean;
}

/**
 * Lists a dataset laid out as one subfolder per class (the torchvision `ImageFolder` layout).
 *
 * Class names are the subfolder names, sorted. Files are found recursively inside each class folder.
 * Hidden files and folders (names starting with '.') are ignored, as are their contents: they are
 * editor and OS clutter (.DS_Store, .ipynb_checkpoints), not data. So are `__MACOSX` (the resource forks a zip made
 * on a Mac unpacks beside the photos) and `@eaDir` (a Synology NAS's thumbnails in every folder). Every other file that is not used is
 * listed in `skipped` with a reason: files with a non-image extension, and files at the top level that
 * belong to no class. Files are not opened here; {@link inspectDataset} or the decoder reports
 * unreadable ones.
 *
 * Symbolic links: a class folder may itself be a link (into another disk, say), and a link to a file is
 * followed (the file is labelled by the folder the link is in). A link to a folder is followed only when its
 * real path lies inside the class folder and has not been listed yet; any other (a loop such as `a/up -> ..`,
 * a link into another class, or out of the dataset) is skipped with the reason, so no image is reached twice or
 * labelled by a path outside its class folder. Two class folders that are, or contain, the same real folder
 * are refused.
 *
 * @param dir the dataset folder.
 * @throws GraftError `INVALID_DATASET` when the folder is missing or not a folder, has no class
 *   subfolders, has a class folder with no images, has two class folders that overlap, or has only one class.
 * @example
 * const ds = await scanImageFolder('./photos');
 * ds.labels; // ['cats', 'dogs']
 */
export async function scanImageFolder(dir: string, options: ScanFolderOptions = {}): Promise<LabelledDataset> {
  const root = resolve(dir);
  await requireFolder(root);
  const entries = (await readdir(root, { withFileTypes: true })).filter((e) => !isClutter(e.name));
  const skipped: SkippedFile[] = [];
  const classDirs: { label: string; real: string }[] = [];
  for (const entry of entries) {
    const full = join(root, entry.name);
    if (await isUndecodableName(full, entry.name)) {
      // A class that cannot be read would silently drop out of the model: stop, unless only listing. A loose file
      // (a note beside the class folders) is no class: it is skipped, as any other would be.
      if (options.isLenient || !(entry.isDirectory() || entry.isSymbolicLink())) skipped.push({ file: full, reason: NOT_UTF8 });
      else throw new GraftError('INVALID_DATASET', `Cannot read the folder ${full}: ${NOT_UTF8.replace('the file name', 'its name')}`);
      continue;
    }
    // Follow symlinks: a class folder may be a link into another disk.
    const real = entry.isDirectory() || entry.isSymbolicLink() ? await realFolder(full) : undefined;
    if (real) classDirs.push({ label: entry.name, real });
    else skipped.push({ file: full, reason: entry.isSymbolicLink() && !(await exists(full)) ? 'broken symbolic link' : 'not inside a class folder' });
  }
  classDirs.sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
  if (classDirs.length === 0) {
    // Loose images with a table beside their folder (Kaggle's labels.csv next to train/): that table labels them.
    const table = tableToPass((await readdir(dirname(root)).catch(() => [] as string[])).filter(isManifestPath));
    const tableHint = table ? `\nor, if ${join(dirname(root), table)} labels these images, pass it instead: graft train ${join(dirname(root), table)}` : '';
    throw new GraftError('INVALID_DATASET', `No class subfolders found in ${root}`, {
      hint: `put the images in one subfolder per class, named after the class:\n${EXPECTED_FOLDER_LAYOUT}\nor, where the class is in the file names (Abyssinian_12.jpg), pass ${optionExample('labelPattern', '^(.+)_\\d+\\.jpg$', "'^(.+)_\\d+\\.jpg$'")}${tableHint}`,
    });
  }
  requireSeparateClasses(root, classDirs);
  requireClassesNotSplits(root, classDirs, entries.filter((e) => !e.isDirectory() && isManifestPath(e.name)).map((e) => e.name).sort());
  const items: LabelledItem[] = [];
  for (const { label, real } of classDirs) {
    const files = await imagesUnder(join(root, label), real, skipped);
    for (const file of files) items.push({ file, label });
    if (files.length === 0 && !options.isLenient) {
      throw new GraftError('INVALID_DATASET', `Class folder "${label}" has no images: ${join(root, label)}`, {
        hint: `add images (.jpg, .png, .webp, ...) to ${join(root, label)} or remove that folder`,
      });
    }
  }
  const labels = classDirs.map((c) => c.label);
  if (!options.isLenient) {
    requireTwoClasses(root, labels);
    requireDistinctLabels(root, labels);
  }
  return { root, labels, items, skipped };
}

/**
 * The image files under `dir`, sorted, with its sub-folders (links followed, never out of `dir` or twice); anything
 * else there is put in `skipped` with the reason. For `graft predict <folder>`.
 */
export async function listImageFiles(dir: string): Promise<{ files: string[]; skipped: SkippedFile[] }> {
  const root = resolve(dir);
  const skipped: SkippedFile[] = [];
  return { files: await imagesUnder(root, await realpath(root), skipped), skipped };
}

/** The image files under `dir` (whose real path is `real`), sorted; the other files go to `skipped`. */
async function imagesUnder(dir: string, real: string, skipped: SkippedFile[]): Promise<string[]> {
  const files: string[] = [];
  const listing: Listing = { classReal: real, visited: new Set([real]), files, skipped, linkedFolders: [] };
  await listFiles(dir, listing);
  // Links to folders are followed only once every real folder is listed, so that a folder reached both ways is listed
  // under its own path and the link is what is skipped, whichever readdir gives first.
  for (let link = listing.linkedFolders.shift(); link !== undefined; link = listing.linkedFolders.shift()) await followLink(link, listing);
  // In UTF-8 byte order, as a feature store merges its shards: the same rows in the same order either way.
  files.sort(compareUtf8);
  for (const file of files.filter((f) => !hasImageExtension(f))) skipped.push({ file, reason: NOT_AN_IMAGE });
  return files.filter(hasImageExtension);
}

/** Folder names that hold a split's images, not a class's: Kaggle's `train_images/`, `test/`, `images/`. */
const SPLIT_LIKE_FOLDER = /^(?:(?:train|training|test|testing|val|valid|validation)(?:[_-]?(?:images|imgs|img|set|data))?|images|imgs)$/i;

/**
 * Refuses a folder that is a table beside its image folders (Kaggle's `train.csv` with `train_images/` and
 * `test_images/`), which read as class folders would train a classifier of "train_images" against "test_images".
 */
function requireClassesNotSplits(root: string, classes: readonly { label: string }[], manifests: readonly string[]): void {
  const splitLike = classes.filter((c) => SPLIT_LIKE_FOLDER.test(c.label)).map((c) => c.label);
  if (manifests.length === 0 && splitLike.length >= 2 && splitLike.length === classes.length) {
    // `training/` + `testing/` (or `train_images/` + `test_images/`): the parts of a split under names the split
    // detection does not take, which read as classes would train a "training" against "testing" classifier.
    throw new GraftError('INVALID_DATASET', `${root} holds ${splitLike.map((l) => `${l}/`).join(', ')}: the parts of a split, not one folder per class`, {
      hint: `rename them train/ and test/ (or val/), each holding one folder per class, or pass the training part alone: graft train ${join(root, splitLike.find((l) => /^train/i.test(l)) ?? splitLike[0]!)}`,
    });
  }
  if (manifests.length === 0 || splitLike.length === 0) return;
  throw new GraftError('INVALID_DATASET', `${root} holds ${manifests.join(', ')} beside image folders named ${splitLike.map((l) => `${l}/`).join(', ')}: a table and the folders of its images, not one folder per class`, {
    hint: `pass the table that labels the training images, e.g. graft train ${join(root, tableToPass(manifests)!)}`,
  });
}

/** Of the tables in a folder, the one that most likely labels the training images: named for training or labels. */
function tableToPass(tables: readonly string[]): string | undefined {
  const sorted = [...tables].sort();
  return sorted.find((t) => /train|label/i.test(t)) ?? sorted[0];
}

/** Two class folders that are the same folder, or one inside the other, would give the same images two labels. */
function requireSeparateClasses(root: string, classes: readonly { label: string; real: string }[]): void {
  for (const a of classes) {
    for (const b of classes) {
      if (a !== b && isWithin(b.real, a.real)) {
        throw new GraftError('INVALID_DATASET', `Class folders "${a.label}" and "${b.label}" in ${root} are ${a.real === b.real ? 'the same folder' : `nested ("${b.label}" is inside "${a.label}")`} through a symbolic link, so their images would get both labels.`, {
          hint: 'give each class its own folder of images (copy, or link the image files instead of the folder)',
        });
      }
    }
  }
}

/**
 * Pairs of class names that print the same: equal once in one Unicode form (a folder copied from macOS is named in
 * NFD, one typed on Linux or Windows in NFC), or, with `ignoreCase`, equal but for case.
 */
export function lookAlikeLabels(labels: readonly string[], ignoreCase = false): [string, string][] {
  const seen = new Map<string, string>();
  const pairs: [string, string][] = [];
  for (const label of labels) {
    const key = ignoreCase ? label.normalize('NFC').toLowerCase() : label.normalize('NFC');
    const first = seen.get(key);
    if (first === undefined) seen.set(key, label);
    else pairs.push([first, label]);
  }
  return pairs;
}

/**
 * A warning for class names that differ only in case ("Cat" and "cat"), or undefined: two classes here, but one folder
 * on macOS and Windows, whose file systems do not keep them apart, and most likely one class typed two ways.
 */
export function caseOnlyLabelsNote(labels: readonly string[]): string | undefined {
  const pairs = lookAlikeLabels(labels, true);
  if (pairs.length === 0) return undefined;
  const shown = pairs.slice(0, 5).map(([a, b]) => `"${a}" and "${b}"`).join(', ');
  return `classes ${shown}${pairs.length > 5 ? ` and ${pairs.length - 5} more pairs` : ''} differ only in case: they train as separate classes, but would be one folder on macOS or Windows; merge them if they are one class`;
}

/**
 * @throws GraftError `INVALID_DATASET` when two class names differ only in their Unicode form: two classes that
 *   look like one in every listing, score and prediction.
 */
export function requireDistinctLabels(root: string, labels: readonly string[]): void {
  const [pair] = lookAlikeLabels(labels);
  if (pair) {
    throw new GraftError('INVALID_DATASET', `Classes ${JSON.stringify(pair[0])} and ${JSON.stringify(pair[1])} in ${root} are the same name in two Unicode forms (composed and decomposed accents), so they would be two classes that look like one`, {
      hint: 'merge the two class folders (or rows) into one; a folder copied from macOS names accents decomposed',
    });
  }
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

/** The real path of a folder (links resolved), or undefined when `path` is not one. */
async function realFolder(path: string): Promise<string | undefined> {
  try {
    const real = await realpath(path);
    return (await stat(real)).isDirectory() ? real : undefined;
  } catch {
    return undefined;
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

interface Listing {
  /** Real path of the class folder: nothing outside it is listed. */
  readonly classReal: string;
  /** Real paths of the folders listed so far: none is listed twice (this is what stops a loop). */
  readonly visited: Set<string>;
  readonly files: string[];
  readonly skipped: SkippedFile[];
  /** Symbolic links to folders met so far, followed after the real folders (see imagesUnder). */
  readonly linkedFolders: { path: string; real: string }[];
}

async function listFiles(dir: string, listing: Listing): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (isClutter(entry.name)) continue;
    const full = join(dir, entry.name);
    if (await isUndecodableName(full, entry.name)) {
      listing.skipped.push({ file: full, reason: NOT_UTF8 });
      continue;
    }
    if (entry.isFile()) {
      listing.files.push(full);
      continue;
    }
    if (!entry.isDirectory() && !entry.isSymbolicLink()) {
      listing.skipped.push({ file: full, reason: 'not a regular file' });
      continue;
    }
    const real = await realpath(full).catch(() => undefined);
    const info = real === undefined ? undefined : await stat(real).catch(() => undefined);
    if (!real || !info) listing.skipped.push({ file: full, reason: 'broken symbolic link' });
    else if (info.isFile()) listing.files.push(full);
    else if (!info.isDirectory()) listing.skipped.push({ file: full, reason: 'not a regular file' });
    else if (!isWithin(real, listing.classReal)) listing.skipped.push({ file: full, reason: `symbolic link to a folder outside its class folder (${real}); not followed` });
    else if (entry.isSymbolicLink()) listing.linkedFolders.push({ path: full, real });
    else {
      listing.visited.add(real);
      await listFiles(full, listing);
    }
  }
}

/** Lists the folder a symbolic link leads to, unless that folder is listed already (a loop, or a second path to it). */
async function followLink(link: { path: string; real: string }, listing: Listing): Promise<void> {
  if (listing.visited.has(link.real)) {
    listing.skipped.push({ file: link.path, reason: 'symbolic link to a folder already listed (a loop or a second path); not followed' });
    return;
  }
  listing.visited.add(link.real);
  await listFiles(link.path, listing);
}
