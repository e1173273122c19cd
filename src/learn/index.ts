/** Training heads on cached features, and the one-call `train` recipe. @packageDocumentation */
export * from '../core/dense-layer.js';
export * from './head-config.js';
export * from './train-config.js';
export * from './train-head.js';
export * from './prepare-data.js';
export * from './train.js';
export * from './fine-tune-config.js';
export * from './fine-tune-loop.js';
export * from './fine-tune.js';
export * from './lr-schedule.js';
export * from './checkpoint.js';
export * from './train-from-features.js';
