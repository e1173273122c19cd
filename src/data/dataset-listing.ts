import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import type { LabelledItem, SkippedFile } from './dataset.js';
import { findSplitFolders } from './find-split-folders.js';
import { streamManifestFiles } from './manifest-files.js';
import { isManifestPath, manifestPartCounts, type ManifestPart } from './manifest.js';
import { scanDataset } from './scan-dataset.js';
import { alignLabels } from './split.js';

/** One image of a listing. */
export interface ListedImage {
  /** 0: training (or the whole dataset when it has no validation folder); 1: the dataset's own validation folder. */
  readonly part: 0 | 1;
  readonly label: string;
  /** Path relative to the listing's root with forward slashes; absolute for a manifest entry outside the root. */
  readonly path: string;
  /** Absolute path on this machine. */
  readonly file: string;
}

/**
 * Every image of a dataset in a fixed order, identified by a path relative to the dataset: the same list on every
 * machine that mounts the dataset, wherever it is mounted, which is what lets shards agree without talking.
 */
export interface DatasetListing {
  /** The folder (or the manifest's folder) that paths are relative to. */
  readonly root: string;
  /** What was given: the folder or the manifest file. */
  readonly source: string;
  /**
   * 'split': the dataset has train/ and val/ (or valid/, validation/, test/) folders, or is a manifest whose split
   * column has val or test rows; 'single': one part.
   */
  readonly layout: 'split' | 'single';
  /** Files the folder scan left out (not images, outside class folders); always empty for a manifest. */
  readonly scanSkipped: readonly SkippedFile[];
  /**
   * The images, train part first: class folders in the order `graft train` reads them (class, then path); a manifest
   * in file order, streamed. Can be iterated more than once.
   */
  images(): AsyncIterable<ListedImage>;
}

/**
 * Lists a dataset for sharded extraction: a class-per-folder directory, one with train/ and val/ folders, or a
 * `path,label` manifest (CSV or JSON Lines; streamed, so its size does not matter; its train rows, then its val rows,
 * else its test rows, when it has a split column).
 *
 * @throws GraftError `INVALID_DATASET` as {@link scanDataset} does, and when val has a class train lacks.
 */
export async function listDataset(path: string): Promise<DatasetListing> {
  const source = resolve(path);
  if (isManifestPath(path)) {
    const root = dirname(source);
    // A split column: train rows are part 0, and the val rows (else the test rows) part 1, as a split folder's val/
    // (else test/); the other held-out rows are not listed, so no store trains on them.
    const counts = await manifestPartCounts(source);
    const heldOut: ManifestPart | undefined = counts === undefined ? undefined : counts.val > 0 ? 'val' : counts.test > 0 ? 'test' : undefined;
    const rows = async function* (wanted: ManifestPart | undefined, part: 0 | 1): AsyncGenerator<ListedImage> {
      for await (const entry of streamManifestFiles(source)) {
        if (entry.part !== wanted) continue;
        yield { part, label: entry.label, path: relativePath(root, entry.file), file: entry.file };
      }
    };
    return {
      root,
      source,
      layout: heldOut ? 'split' : 'single',
      scanSkipped: [],
      images: async function* () {
        yield* rows(counts === undefined ? undefined : 'train', 0);
        if (heldOut) yield* rows(heldOut, 1);
      },
    };
  }
  const split = await findSplitFolders(source);
  const train = await scanDataset(split ? split.train : source);
  const val = split?.val ? alignLabels(train, await scanDataset(split.val)).val : undefined;
  const fromItems = (items: readonly LabelledItem[], part: 0 | 1): ListedImage[] =>
    items.map((item) => ({ part, label: item.label, path: relativePath(source, item.file), file: item.file }));
  const images = [...fromItems(train.items, 0), ...(val ? fromItems(val.items, 1) : [])];
  return {
    root: source,
    source,
    layout: val ? 'split' : 'single',
    scanSkipped: [...train.skipped, ...(val?.skipped ?? [])],
    images: async function* () {
      yield* images;
    },
  };
}

/** `file` relative to `root` with forward slashes, or `file` itself when it is outside `root`. */
export function relativePath(root: string, file: string): string {
  const rel = relative(root, file);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return file;
  return sep === '/' ? rel : rel.split(sep).join('/');
}
