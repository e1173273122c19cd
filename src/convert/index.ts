/** `graft convert` as a function: a model converted between formats, checked numerically before it is written. @packageDocumentation */
export { convertModel, type ConversionReport, type ConvertOptions, type ConvertTarget } from './convert-model.js';
