/**
 * Graft: transfer learning on images for TypeScript.
 *
 * ```ts
 * import { train, GraftModel } from 'graft';
 * const result = await train({ train: './photos', backbone: 'mobilenet_v2', out: './model' });
 * const model = await GraftModel.load('./model');
 * const { results } = await model.predict(['bee.jpg']);   // [{ file, predictions: [{ label: 'bees', probability: 0.98 }, ...] }]
 * ```
 * Every layer under `train` is public and usable alone: hub (find a backbone), formats (read/convert it), engine
 * (run it), data (list and decode images), features (cache vectors), learn (fit a head), metrics (score it), model
 * (save, load, predict).
 * @packageDocumentation
 */
export { train, type TrainOptions, type TrainResult } from './learn/train.js';
export { trainFromFeatures, type TrainFromFeaturesOptions } from './learn/train-from-features.js';
export { DEFAULT_FINE_TUNE, type FineTuneConfig } from './learn/fine-tune-config.js';
export { GraftModel, type FilePrediction, type LabelProbability } from './model/graft-model.js';
export { evaluateModel, type ModelEvaluation } from './model/evaluate-model.js';
export { GraftError, type GraftErrorCode } from './core/errors.js';
export type { ProgressEvent, ProgressListener, EpochLogs } from './core/progress.js';
export * as hub from './hub/index.js';
export * as formats from './formats/index.js';
export * as engine from './engine/index.js';
export * as data from './data/index.js';
export * as features from './features/index.js';
export * as learn from './learn/index.js';
export * as metrics from './metrics/index.js';
export * as model from './model/index.js';
