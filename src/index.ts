/**
 * Graft: transfer learning on images for TypeScript.
 *
 * ```ts
 * import { train, GraftModel } from 'graft';
 * const result = await train({ train: './photos', backbone: 'mobilenet_v2', out: './model' });
 * const model = await GraftModel.load('./model');
 * const { results } = await model.predict(['bee.jpg']);   // [{ file, predictions: [{ label: 'bees', probability: 0.98 }, ...] }]
 * ```
 *
 * This file is the whole public surface, chosen name by name: the one-call functions, the error and event types,
 * and one namespace per documented layer (hub, formats, convert, engine, data, features, learn, recipes, metrics,
 * model), each of which is that module's own chosen list (its index.ts). No public type is a tfjs, onnx-proto,
 * onnxruntime or SQLite type, so a consumer type-checks with `skipLibCheck: false`.
 * @packageDocumentation
 */
export { train, type TrainOptions, type TrainResult } from './recipes/train.js';
export { trainFromFeatures, type TrainFromFeaturesOptions } from './recipes/train-from-features.js';
export { DEFAULT_FINE_TUNE, type FineTuneConfig } from './learn/fine-tune-config.js';
export { GraftModel, type FilePrediction, type LabelProbability } from './model/graft-model.js';
export { compareEvaluations, evaluateModel, type Disagreement, type EvaluateOptions, type EvaluationComparison, type ModelEvaluation, type ScoredImage } from './model/evaluate-model.js';
export { convertModel, type ConversionReport, type ConvertOptions, type ConvertTarget } from './convert/convert-model.js';
export { GraftError, type GraftErrorCode } from './core/errors.js';
export type { EpochLogs, ProgressEvent, ProgressListener, TrainPhase, WarningCode } from './core/progress.js';
export type { ModelFormat, RuntimeName } from './core/model-format.js';
export type { Preprocessing } from './core/preprocessing.js';
export * as hub from './hub/index.js';
export * as formats from './formats/index.js';
export * as convert from './convert/index.js';
export * as engine from './engine/index.js';
export * as data from './data/index.js';
export * as features from './features/index.js';
export * as learn from './learn/index.js';
export * as recipes from './recipes/index.js';
export * as metrics from './metrics/index.js';
export * as model from './model/index.js';
