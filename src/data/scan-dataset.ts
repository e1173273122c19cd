import type { LabelledDataset } from './dataset.js';
import { isManifestPath } from './manifest.js';
import { scanCsv } from './scan-csv.js';
import { scanImageFolder } from './scan-folder.js';

/**
 * Lists a dataset from either a class-per-folder directory or a `path,label` manifest (by the `.csv`, `.jsonl` or
 * `.ndjson` extension). See {@link scanImageFolder} and {@link scanCsv}. With `isLenient`, one class (or an empty
 * class folder) is not an error: what scoring a model needs, not training one.
 */
export function scanDataset(pathOrCsv: string, options: { readonly isLenient?: boolean } = {}): Promise<LabelledDataset> {
  return isManifestPath(pathOrCsv) ? scanCsv(pathOrCsv, options) : scanImageFolder(pathOrCsv, options);
}
