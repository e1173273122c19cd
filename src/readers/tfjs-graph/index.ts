/** TF.js graph models (TF Hub's TF.js format): load from disk or nsfwjs, extract features, export to ONNX. @packageDocumentation */
export * from './graph-model-json.js';
export * from './load-graph-model.js';
export * from './graph-features.js';
export * from '../../formats/tfjs-graph/graph-to-onnx.js';
export { SUPPORTED_GRAPH_OPS } from '../../formats/tfjs-graph/graph-ops-to-onnx.js';
