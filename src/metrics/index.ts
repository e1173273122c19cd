/** Scoring predictions: pure functions, no I/O (`evaluatePredictions`), and their text report. @packageDocumentation */
export { accuracy, argmax, confusionMatrix, evaluatePredictions, perClassScores, predictedIndices, topKAccuracy, type ClassScores, type EvaluationReport, type Misclassification, type PredictionSet } from './classification.js';
export { formatReport, type FormatReportOptions } from './format-report.js';
