/*
 * ONNX operators as Keras layers (NHWC), one file per family of operators; this one gathers them for the
 * converter's table (convert-onnx.ts) and the quantized operators (layer-ops-quant.ts).
 */
export * from './layer-ops-common.js';
export * from './layer-ops-conv.js';
export * from './layer-ops-activation.js';
export * from './layer-ops-arith.js';
export * from './layer-ops-shape.js';
