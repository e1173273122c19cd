/**
 * Model formats: which file is which model, by content (`detectFormat` asks every entry of the format registry
 * and says why each declined), and the formats Graft reads. Converting between them is `convertModel`.
 * @packageDocumentation
 */
export { detectFormat, type DetectedFormat } from './detect-format.js';
export { MODEL_FORMATS } from './model-formats.js';
export type { BackboneLocation } from './model-location.js';
export type { ConversionReport, ConvertTarget } from './conversion-report.js';
export type { ModelFormat, RuntimeName } from '../core/model-format.js';
