import { findDuplicates, partItems, type DuplicateGroup } from '../data/find-duplicates.js';
import { hashFilesCached } from '../features/hash-files-cached.js';
import type { ProgressListener } from '../core/progress.js';
import type { DataSplit } from './prepare-data.js';

/**
 * Finds images that are in the training data more than once, above all those in both train and val (a
 * random split of a folder with copies puts them there), and reports them as one `duplicates` event. Training
 * goes on: duplicates are a warning, not an error, but validation accuracy is too high while they stay.
 */
export async function checkDuplicates(data: DataSplit, cacheDir: string, onProgress: ProgressListener | undefined): Promise<DuplicateGroup[]> {
  const items = partItems([
    { part: 'train', items: data.train },
    { part: 'val', items: data.val },
  ]);
  const known = data.sha256;
  const hashes = known ? items.map((item) => known.get(item.file)) : await hashFilesCached(items.map((item) => item.file), cacheDir);
  const groups = findDuplicates(items.map((item, i) => ({ ...item, sha256: hashes[i] })));
  if (groups.length) onProgress?.({ type: 'duplicates', groups });
  return groups;
}
