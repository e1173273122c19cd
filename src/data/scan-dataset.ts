import { readdir } from 'node:fs/promises';
import { isReallyWithin } from '../core/is-within.js';
import { join } from 'node:path';
import { GraftError } from '../core/errors.js';
import { optionName } from '../core/option-name.js';
import type { LabelledDataset } from './dataset.js';
import { isManifestPath, type ManifestPart } from './manifest.js';
import { scanCsv } from './scan-csv.js';
import { isClutter, scanImageFolder } from './scan-folder.js';
import { scanNamedImages } from './scan-named.js';

/** Options of {@link scanDataset}. */
export interface ScanDatasetOptions {
  /** One class (or an empty class folder) is not an error: what scoring a model needs, not training one. */
  readonly isLenient?: boolean;
  /** Labels from the image names instead of class folders (see {@link scanNamedImages}). */
  readonly labelPattern?: string;
  /** Of a manifest with a split column, the rows of the first of these parts that has any (see {@link scanCsv}). */
  readonly parts?: readonly ManifestPart[];
  /**
   * Real paths of the folders images may be read from (a server's data roots): an image whose real path, links
   * followed, lies outside them (a class folder or file linked out, a manifest's absolute path) is skipped, saying
   * so. Left out, every image listed is read, as the CLI does.
   */
  readonly confineTo?: readonly string[];
}

/**
 * Lists a dataset from a class-per-folder directory, a `path,label` manifest (by the `.csv`, `.jsonl` or `.ndjson`
 * extension; or a folder of loose images with one, see {@link folderManifest}), or, with `labelPattern`, a folder of
 * images whose names hold their class. See {@link scanImageFolder},
 * {@link scanCsv} and {@link scanNamedImages}.
 *
 * @throws GraftError `INVALID_CONFIG` for a label pattern with a manifest, which names its labels itself.
 */
export async function scanDataset(pathOrCsv: string, options: ScanDatasetOptions = {}): Promise<LabelledDataset> {
  const dataset = await scanAny(pathOrCsv, options);
  return options.confineTo ? confine(dataset, options.confineTo) : dataset;
}

async function scanAny(pathOrCsv: string, options: ScanDatasetOptions): Promise<LabelledDataset> {
  if (options.labelPattern !== undefined) {
    if (isManifestPath(pathOrCsv)) {
      throw new GraftError('INVALID_CONFIG', `${optionName('labelPattern')} reads labels from image names in a folder, and ${pathOrCsv} is a manifest, which names them`, {
        hint: `drop ${optionName('labelPattern')}, or pass the folder of images`,
      });
    }
    return scanNamedImages(pathOrCsv, options.labelPattern, options);
  }
  if (isManifestPath(pathOrCsv)) return scanCsv(pathOrCsv, options);
  const manifest = await folderManifest(pathOrCsv);
  return manifest ? scanCsv(manifest, options) : scanImageFolder(pathOrCsv, options);
}

/**
 * The manifest a folder of loose images is labelled by: its one `.csv` or `.jsonl` file, when it has no class
 * sub-folders (Roboflow's CSV export: `train/` holds the images and `_classes.csv`, and so do `valid/` and `test/`).
 */
export async function folderManifest(dir: string): Promise<string | undefined> {
  let entries;
  try {
    entries = (await readdir(dir, { withFileTypes: true })).filter((e) => !isClutter(e.name));
  } catch {
    return undefined; // not a folder: scanImageFolder says so
  }
  if (entries.some((e) => e.isDirectory())) return undefined;
  const manifests = entries.filter((e) => e.isFile() && isManifestPath(e.name));
  return manifests.length === 1 ? join(dir, manifests[0]!.name) : undefined;
}

/** `dataset` without the images whose real path lies outside `folders` (moved to its skipped files, with why). */
async function confine(dataset: LabelledDataset, folders: readonly string[]): Promise<LabelledDataset> {
  const inside = await Promise.all(dataset.items.map((item) => isReallyWithin(item.file, folders)));
  if (inside.every(Boolean)) return dataset;
  return {
    ...dataset,
    items: dataset.items.filter((_, i) => inside[i]),
    skipped: [...dataset.skipped, ...dataset.items.filter((_, i) => !inside[i]).map((item) => ({ file: item.file, reason: 'outside the folders this server may read (a link or path out of its data roots); not read' }))],
  };
}
