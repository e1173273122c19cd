import type { DuplicateGroup } from '../core/duplicate-group.js';
import type { SkippedFile } from './dataset.js';

/** Per-class counts. `readable` is undefined when decoding was not checked. */
export interface ClassSummary {
  readonly label: string;
  readonly count: number;
  readonly readable: number | undefined;
}

/** One scanned part of a dataset: the whole of it, or its train, val or (unused by training) test folder. */
export interface PartSummary {
  readonly name: 'all' | 'train' | 'val' | 'test';
  readonly root: string;
  readonly labels: string[];
  readonly classes: ClassSummary[];
  /** Image files listed (before decoding). */
  readonly imageCount: number;
  /** Files not listed as images by the scan (wrong extension, outside class folders, missing). */
  readonly skipped: SkippedFile[];
  /** Listed images that failed to decode, with the reason. */
  readonly unreadable: SkippedFile[];
  /** How many files were skipped and unreadable: for a manifest, `skipped` and `unreadable` keep only the first 100. */
  readonly skippedCount: number;
  readonly unreadableCount: number;
  /** Of `skippedCount`, the manifest rows whose path is an http(s) URL (`graft download` fetches them); absent for folders. */
  readonly urlCount?: number;
}

/** What `graft inspect` prints. */
export interface DatasetSummary {
  readonly path: string;
  /** `csv`: a manifest, CSV or JSON Lines (the name is kept for scripts that read it). */
  readonly layout: 'class-folders' | 'train-val-folders' | 'csv' | 'file-names';
  readonly parts: PartSummary[];
  /** Problems worth fixing that do not stop training (e.g. a tiny class, duplicate images). */
  readonly warnings: string[];
  /** Images whose bytes appear more than once: across train and val first, then under different labels. */
  readonly duplicates: DuplicateGroup[];
}
