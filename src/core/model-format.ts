/**
 * Every file format Graft reads a model from. This is the one declaration of the union: the format registry
 * (`formats/`) holds one entry per member, and a manifest records the member its backbone came in.
 * - `onnx`: an ONNX protobuf (.onnx), possibly with external data files beside it.
 * - `tfjs-layers`: a TF.js layers model (a folder with model.json and weight shards).
 * - `tfjs-graph`: a TF.js graph model (TF Hub's TF.js models; a folder with model.json and weight shards).
 * - `keras-h5`: a Keras HDF5 file (a full model, or weights only with a separate architecture).
 */
export type ModelFormat = 'onnx' | 'tfjs-layers' | 'tfjs-graph' | 'keras-h5';

/**
 * Where a backbone's frozen forward passes run: `onnxruntime` (the fast path; TF.js models run from their cached
 * ONNX export) or `tfjs` (tfjs-wasm, for TF.js layers models, to compare or if an export ever disagrees).
 */
export type RuntimeName = 'onnxruntime' | 'tfjs';
