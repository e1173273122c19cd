/**
 * Heads on cached features: the default linear head, chosen by cross-validation and solved by L-BFGS
 * (`fitLinearHead`), the MLP head trained by the fit loop (`trainHead`), their configs, and the one training loop
 * (`fit`) with its callbacks. The one-call `train` recipe is in `recipes`; fine-tuning's steps are internal: `train({ fineTune })` is
 * their public face.
 * @packageDocumentation
 */
export { denseForward, foldNormalization, softmaxInPlace, type DenseLayerWeights, type FeatureNormalization } from '../core/dense-layer.js';
export { DEFAULT_HEAD, describeHead, headFromConfig, headToConfig, isLinearHead, type HeadConfig } from './head-config.js';
export { DEFAULT_TRAIN, trainConfigFrom, type AutoOr, type TrainConfig, type TrainConfigInput } from './train-config.js';
export { trainHead, type FeatureMatrix, type LabelledFeatures, type TrainedHead } from './train-head.js';
export { fitLinearHead, type HeadTrainingSet, type LinearHead, type LinearHeadOptions, type SelectionReport } from './select/fit-linear-head.js';
export type { CropRows } from './select/crop-rows.js';
export type { CvScore, MirrorViews, SelectionCriterion, TrainViews } from './select/cross-validate.js';
export type { LabelIssue } from '../core/selection-report.js';
export type { ValScores } from './head-phase.js';
export type { FineTuneSummary } from './fine-tune-summary.js';
export type { FineTuneHoldout } from '../core/fine-tune-holdout.js';
export { prepareData, validationSource, type DataSource, type DataSplit, type LabelledDataset, type PrepareDataOptions, type ValidationSource } from './prepare-data.js';
export { DEFAULT_FINE_TUNE, fineTuneConfigFrom, type FineTuneConfig } from './fine-tune-config.js';
export { classWeightsFor } from './class-weights.js';
export {
  checkpoint,
  earlyStopping,
  fit,
  lrSchedule,
  progress,
  type BatchResult,
  type BestEpoch,
  type CheckpointOptions,
  type EarlyStopping,
  type EarlyStoppingOptions,
  type FitCallback,
  type FitContext,
  type FitModel,
  type FitOptions,
  type FitResult,
  type FloatValues,
  type LrScheduleOptions,
  type OptimizerState,
  type ProgressOptions,
  type ScheduledOptimizer,
  type StopRequest,
  type Weights,
  type WeightsSnapshot,
} from './fit/index.js';
export { SCHEDULE_KINDS, learningRateAt, type ScheduleKind, type ScheduleOptions } from './lr-schedule.js';
