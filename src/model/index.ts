/** Trained model directories: manifest, save, load, predict, evaluate, export to TF.js and Teachable Machine. @packageDocumentation */
export { HEAD_WEIGHTS_FILE, MANIFEST_FILE, ONNX_FILE, parseManifest, readModelDir, type ExternalHeadConfig, type FineTuneOutcome, type ModelManifest, type StoredTensor, type TrainingConfig, type TrainingOutcome } from './manifest.js';
export { packHeadWeights, saveModelDir, unpackHeadWeights } from './save-model.js';
export { GraftModel, topLabels, type FilePrediction, type LabelProbability, type PredictOptions, type ProbabilityRun } from './graft-model.js';
export { compareEvaluations, evaluateModel, type Disagreement, type EvaluateOptions, type EvaluationComparison, type ModelEvaluation, type ScoredImage } from './evaluate-model.js';
export { TFJS_METADATA_FILE, exportTfjs, type TfjsExport } from './export-tfjs.js';
export { TEACHABLE_MACHINE_METADATA_FILE, exportTeachableMachine, type TeachableMachineExport } from './export-teachable-machine.js';
