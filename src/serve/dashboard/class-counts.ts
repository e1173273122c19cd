import { findSplitFolders } from '../../data/find-split-folders.js';
import type { LabelledDataset } from '../../data/dataset.js';
import { scanDataset } from '../../data/scan-dataset.js';

/** Images per class of a project folder, and how many files it cannot use. */
export interface ClassCounts {
  readonly classes: { label: string; count: number }[];
  readonly skipped: number;
}

/**
 * Images per class of a folder: train/ and val/ (or the like) are added up when the folder is split, and so are the
 * train and val rows of a folder labelled by its manifest (a Roboflow export under a data root). Images outside
 * `confineTo` (linked out of the data roots) are not counted but skipped.
 */
export async function classCounts(folder: string, confineTo?: readonly string[]): Promise<ClassCounts> {
  const split = await findSplitFolders(folder).catch(() => undefined);
  const roots = split ? [split.train, ...(split.val ? [split.val] : [])] : [folder];
  const counts = new Map<string, number>();
  let skipped = 0;
  for (const root of roots) {
    // Lenient: a project being filled shows its first class before there is a second.
    const train = await scanDataset(root, { isLenient: true, parts: ['train'], confineTo }).catch(() => undefined);
    const val = train?.split && train.split.counts.val > 0 ? await scanDataset(root, { isLenient: true, parts: ['val'], confineTo }).catch(() => undefined) : undefined;
    for (const dataset of [train, val].filter((d): d is LabelledDataset => d !== undefined)) {
      skipped += dataset.skipped.length;
      for (const item of dataset.items) counts.set(item.label, (counts.get(item.label) ?? 0) + 1);
    }
  }
  return { classes: [...counts].sort((a, b) => a[0].localeCompare(b[0])).map(([label, count]) => ({ label, count })), skipped };
}
