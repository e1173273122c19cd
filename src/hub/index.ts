/** Finding backbones: the catalogue, local paths, URLs, the model cache, downloads and mirrors. @packageDocumentation */
export { CATALOGUE, CATALOGUE_NAMES, DEFAULT_BACKBONE, findEntryBySha256, isCatalogueName, type CatalogueEntry, type CatalogueName } from './catalogue.js';
export { copyFileVerified, downloadFile, type DownloadOptions } from './download.js';
export { applyMirror, configFilePath, mirrorsFromEnvironment, parseMirrorSpec, readMirrorConfig, type MirrorRule, type MirrorTarget } from './mirror.js';
export { cachedCopy, catalogueCachePath, downloadModel, modelDirsFromEnv, resolveBackbone, resolveLocalPath, type BackboneLocation, type CachedCopy, type ResolveOptions, type ResolvedBackbone } from './resolve-backbone.js';
// Model ids: computed by the module that knows each format, kept here where the hub's users looked for them.
export { sha256File } from '../core/sha256-file.js';
export { onnxModelSha256 } from '../onnx/model-id.js';
export { tfjsModelDirSha256, weightPaths } from '../readers/tfjs-model-dir.js';
