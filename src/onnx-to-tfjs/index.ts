export { importOnnxToTfjs, type ImportOnnxOptions, type OnnxTfjsGraph, type PredictOptions } from './import-onnx.js';
export { MICROSOFT_OPERATORS, ONNX_OPERATORS } from './operators.js';
