/**
 * The one-call use cases that turn data into a model directory: `train` (images -> backbone -> features -> head,
 * optionally fine-tuned -> saved model) and `trainFromFeatures` (a shard store of features -> saved model). They sit
 * above `learn` (fitting) and `model` (the directory), which do not know each other.
 * @packageDocumentation
 */
export { train, type TrainOptions, type TrainResult } from './train.js';
export { trainFromFeatures, type TrainFromFeaturesOptions } from './train-from-features.js';
export type { TrainedHeadSummary } from './train-manifest.js';
