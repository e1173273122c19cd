/** Finding backbones: the catalogue, local paths, URLs and the model cache. @packageDocumentation */
export * from './catalogue.js';
export * from './download.js';
export * from './mirror.js';
export * from './model-hash.js';
export * from './resolve-backbone.js';
