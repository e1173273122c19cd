/**
 * The one-call use cases that turn data into a model directory: `train` (images -> backbone -> features -> head,
 * optionally fine-tuned -> saved model), `trainFromFeatures` (a shard store of features -> saved model), and the
 * "replace the head" pair: `extractHeadFeatures` (images -> the features a head is fitted on) and `saveHeadModel`
 * (a head fitted anywhere -> saved model). They sit above `learn` (fitting) and `model` (the directory), which do not
 * know each other.
 * @packageDocumentation
 */
export { train, type TrainOptions, type TrainResult } from './train.js';
export { trainFromFeatures, type TrainFromFeaturesOptions } from './train-from-features.js';
export type { TrainedHeadSummary } from './train-manifest.js';
export type { HeadBackboneOptions } from './head-backbone-options.js';
export { extractHeadFeatures, type ExtractHeadFeaturesOptions, type HeadFeatures } from './extract-head-features.js';
export { saveHeadModel, type SaveHeadModelOptions, type SavedHeadModel } from './save-head-model.js';
