/** Training heads on cached features, and the one-call `train` recipe. @packageDocumentation */
export * from './dense-layer.js';
export * from './head-config.js';
export * from './train-config.js';
export * from './train-head.js';
export * from './prepare-data.js';
export * from './train.js';
