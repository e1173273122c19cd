/** Scoring predictions: pure functions, no I/O (`evaluatePredictions`), and their text report. @packageDocumentation */
export { accuracy, argmax, confusionMatrix, evaluatePredictions, mostConfused, perClassScores, predictedIndices, topKAccuracy, type ClassScores, type ConfusedPair, type EvaluationReport, type Misclassification, type PredictionSet } from './classification.js';
export { calibration, isProbabilityMatrix, logLoss, type Calibration, type CalibrationBin } from './calibration.js';
export { comparePaired, mcnemarExactP, type PairedComparison } from './paired.js';
export { wilsonInterval, type ProportionInterval } from './interval.js';
export { formatReport, type FormatReportOptions } from './format-report.js';
