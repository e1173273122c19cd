/**
 * Listing, splitting and decoding image datasets: scan -> split -> decode, with `inspectDataset` as the
 * dry run (`graft inspect`).
 * @packageDocumentation
 */
export * from './dataset.js';
export * from '../core/random.js';
export * from './scan-folder.js';
export * from './scan-csv.js';
export * from './manifest.js';
export * from './dataset-listing.js';
export * from './scan-dataset.js';
export * from './find-split-folders.js';
export * from './split.js';
export * from './decode-image.js';
export * from './decode-stream.js';
export * from './synthetic.js';
export * from './inspect.js';
export * from './find-duplicates.js';
export * from './sniff-image-format.js';
export * from './augment.js';
export * from './mirror-tensor.js';
