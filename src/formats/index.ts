/** Model formats: ONNX graph surgery and TF.js layers (load, export to ONNX). @packageDocumentation */
export * from './onnx/onnx-model.js';
export * from './onnx/feature-output.js';
export * from './onnx/append-head.js';
export * from './tfjs-layers.js';
export * from './tfjs-to-onnx.js';
