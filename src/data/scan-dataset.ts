import type { LabelledDataset } from './dataset.js';
import { scanCsv } from './scan-csv.js';
import { scanImageFolder } from './scan-folder.js';

/**
 * Lists a dataset from either a class-per-folder directory or a `path,label` CSV file (by the `.csv`
 * extension). See {@link scanImageFolder} and {@link scanCsv}.
 */
export function scanDataset(pathOrCsv: string): Promise<LabelledDataset> {
  return pathOrCsv.toLowerCase().endsWith('.csv') ? scanCsv(pathOrCsv) : scanImageFolder(pathOrCsv);
}
