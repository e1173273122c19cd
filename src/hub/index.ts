/** Finding backbones: the catalogue, local paths, URLs and the model cache. @packageDocumentation */
export * from './catalogue.js';
export * from './download.js';
export * from './mirror.js';
export { sha256File } from '../core/sha256-file.js';
export { onnxModelSha256 } from '../onnx/model-id.js';
export { tfjsModelDirSha256, weightPaths } from '../readers/tfjs-model-dir.js';
export * from './resolve-backbone.js';
