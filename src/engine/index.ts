/**
 * Running backbones: opened through the format registry (`openBackbone`, `backboneFromOptions`), frozen passes in
 * onnxruntime (`OrtBackbone`); the tfjs backend choice that training runs on. The preprocessing types are
 * core's, re-exported here where earlier releases had them.
 * @packageDocumentation
 */
export type { Backbone, BackboneFormat, BackboneInfo } from './backbone.js';
export { backboneFromOptions, openBackbone, preprocessingFor, type BackboneHandle, type BackboneOptions, type OpenBackboneOptions, type PreprocessingOverrides } from './open-backbone.js';
export { OrtBackbone, type OrtBackboneOptions } from './ort-backbone.js';
export { ensureTfjsBackend, ensureTfjsBackendChoice, warnOnFallback, type TfjsBackendChoice, type TfjsBackendName } from '../runtime/tfjs-backend.js';
export { LAYOUTS, SCALES, channelAffine, cropFractionOf, makePreprocessing, preprocessingHash, type Interpolation, type Layout, type Preprocessing, type ResizeMode, type Scale } from '../core/preprocessing.js';
// The kernels themselves (registerWasmGradKernels) are internal: their module reaches tfjs's types. train({ nativeGemm }) is the switch.
export type { WasmGradKernelOptions, WasmGradKernels, WasmGradKernelWarning } from './wasm-grad-kernels/wasm-grad-kernels.js';
