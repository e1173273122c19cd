/**
 * Listing, splitting and decoding image datasets: scan -> split -> decode, with `inspectDataset` as the
 * dry run (`graft inspect`). Seeded randomness (core's) is re-exported for splits and shuffles.
 * @packageDocumentation
 */
export { IMAGE_EXTENSIONS, hasImageExtension, type LabelledDataset, type LabelledItem, type SkippedFile } from './dataset.js';
export { EXPECTED_FOLDER_LAYOUT, requireTwoClasses, scanImageFolder, type ScanFolderOptions } from './scan-folder.js';
export { parseCsv, scanCsv, scanManifest } from './scan-csv.js';
export { MANIFEST_EXTENSIONS, isManifestPath, streamManifest, type ManifestEntry, type ManifestPart } from './manifest.js';
export { listDataset, relativePath, type DatasetListing, type ListedImage } from './dataset-listing.js';
export { scanDataset, type ScanDatasetOptions } from './scan-dataset.js';
export { VAL_FOLDER_NAMES, findSplitFolders } from './find-split-folders.js';
export { alignLabels, stratifiedSplit, type SplitOptions } from './split.js';
export { DEFAULT_LIMIT_INPUT_PIXELS, UnreadableImageError, decodeImage, decodeImageBytes, decodeToRgb, readImageFile, rgbToTensor, type DecodeOptions } from './decode-image.js';
export { decodeAll, readAndDecode, type DecodedItem, type ReadAndDecodeOptions, type ReadItem, type SkipEvent } from './decode-stream.js';
export { SYNTHETIC_LABELS, writeSyntheticDataset, type SyntheticDataset, type SyntheticLabel, type SyntheticOptions } from './synthetic.js';
export { inspectDataset, type ClassSummary, type DatasetSummary, type InspectOptions, type PartSummary } from './inspect.js';
export { describeDuplicates, findDuplicates, hashFiles, partItems, type DatasetPart, type DuplicateFile, type DuplicateGroup, type HashedItem } from './find-duplicates.js';
export { DOWNLOADED_MANIFEST, downloadImages, folderName, type DownloadFailure, type DownloadImagesOptions, type DownloadReport } from './download-images.js';
export { MAX_IMAGE_BYTES, fetchImageBytes, isImageUrl, type FetchImageOptions } from './fetch-image.js';
export { EXTENSION_BY_FORMAT, sniffImageFormat, type ImageFormat } from './sniff-image-format.js';
export { DEFAULT_AUGMENT, IDENTITY_VIEW, augmentHash, checkAugmentConfig, decodeView, decodeViews, viewParams, type AugmentConfig, type ViewParams } from './augment.js';
export { deriveSeed, mulberry32, randomInt, shuffleInPlace, type Random } from '../core/random.js';
