/**
 * One training loop with callbacks: `fit(model, { epochs, callbacks, signal })` and the callbacks Graft's trainers
 * use. The tfjs adapters (`tfjs-weights.ts`) stay internal: the public types name no tfjs declaration.
 */
export { fit } from './fit.js';
export { earlyStopping, type BestEpoch, type EarlyStopping, type EarlyStoppingOptions } from './early-stopping.js';
export { checkpoint, type CheckpointOptions, type OptimizerState } from './checkpoint.js';
export { lrSchedule, type LrScheduleOptions, type ScheduledOptimizer } from './lr-schedule.js';
export { progress, type ProgressOptions } from './progress.js';
export type { BatchResult, FitCallback, FitContext, FitModel, FitOptions, FitResult, FloatValues, StopRequest, Weights, WeightsSnapshot } from './types.js';
