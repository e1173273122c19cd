/** Running backbones: onnxruntime for frozen passes, tfjs (wasm) for what trains. @packageDocumentation */
export * from './backbone.js';
export * from '../core/preprocessing.js';
export * from './open-backbone.js';
export * from '../runtime/ort-session.js';
export * from './ort-backbone.js';
export * from '../runtime/tfjs-backend.js';
export * from './tfjs-backbone.js';
export { registerWasmGradKernels, type WasmGradKernelOptions } from './wasm-grad-kernels/index.js';
