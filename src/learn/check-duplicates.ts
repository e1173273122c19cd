import { findDuplicates, partItems, type DuplicateGroup } from '../data/find-duplicates.js';
import type { ProgressListener } from '../core/progress.js';
import type { DataSplit } from './prepare-data.js';

/**
 * Finds images that are in the training data more than once, above all those in both train and val (a
 * random split of a folder with copies puts them there), and reports them as one `duplicates` event. Training
 * goes on: duplicates are a warning, not an error, but validation accuracy is too high while they stay.
 */
export function checkDuplicates(data: DataSplit, sha256: ReadonlyMap<string, string>, onProgress: ProgressListener | undefined): DuplicateGroup[] {
  const items = partItems([
    { part: 'train', items: data.train },
    { part: 'val', items: data.val },
  ]);
  const groups = findDuplicates(items.map((item) => ({ ...item, sha256: sha256.get(item.file) })));
  if (groups.length) onProgress?.({ type: 'duplicates', groups });
  return groups;
}
