/** Model formats: ONNX graph surgery, TF.js layers and graph models, Keras .h5, detection and conversion. @packageDocumentation */
export * from '../onnx/onnx-model.js';
export * from '../onnx/feature-output.js';
export * from '../onnx/append-head.js';
export * from '../readers/tfjs-layers.js';
export * from '../tfjs-to-onnx/layers-model-to-onnx.js';
export * from '../readers/save-layers-model.js';
export * from './detect-format.js';
export * from '../convert/convert-model.js';
export * as kerasH5 from '../readers/keras-h5/index.js';
export * as tfjsGraph from '../readers/tfjs-graph/index.js';
export * from '../tfjs-to-onnx/graph-model-to-onnx.js';
export { SUPPORTED_GRAPH_OPS } from '../tfjs-to-onnx/graph-ops-to-onnx.js';
export * as onnxToTfjs from '../onnx-to-tfjs/index.js';
export * from '../onnx/cut-points.js';
export * from '../onnx/prefix-model.js';
export * from '../onnx-to-tfjs/export-fine-tuned.js';
export * as onnxToLayers from '../onnx-to-layers/index.js';
