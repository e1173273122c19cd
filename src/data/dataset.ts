import type { ManifestPart } from './manifest.js';

/**
 * The shapes the data layer passes around: a list of labelled files and the files it could not use.
 * Nothing is dropped silently: every file that was looked at and not used is in `skipped` with a reason.
 */

/** One labelled image file. */
export interface LabelledItem {
  /** Absolute path. */
  readonly file: string;
  readonly label: string;
}

/** A file that was seen and not used, and why (shown by `graft inspect`). */
export interface SkippedFile {
  readonly file: string;
  readonly reason: string;
}

/** A scanned dataset: class names (sorted), the labelled files, and what was skipped. */
export interface LabelledDataset {
  /** The folder or CSV file the dataset was read from (absolute). */
  readonly root: string;
  /** Class names, sorted; a label's index in this array is its class id. */
  readonly labels: string[];
  readonly items: LabelledItem[];
  readonly skipped: SkippedFile[];
  /**
   * For a manifest with a split column: the rows of each part it lists (files found or not), and which part `items`
   * holds (undefined: every row).
   */
  readonly split?: { readonly counts: Readonly<Record<ManifestPart, number>>; readonly part: ManifestPart | undefined };
}

/** File extensions Graft accepts as images (lower case, with the dot); the bytes, not the name, then decide the format. */
export const IMAGE_EXTENSIONS: readonly string[] = [
  '.jpg',
  '.jpeg',
  // JPEG under the names browsers and Windows save web images with.
  '.jfif',
  '.jpe',
  '.png',
  '.webp',
  '.gif',
  '.tif',
  '.tiff',
  '.bmp',
  '.avif',
  '.heic',
  '.heif',
];

/** Whether a file name has one of {@link IMAGE_EXTENSIONS} (case-insensitive). */
export function hasImageExtension(fileName: string): boolean {
  const dot = fileName.lastIndexOf('.');
  if (dot < 0) return false;
  return IMAGE_EXTENSIONS.includes(fileName.slice(dot).toLowerCase());
}
