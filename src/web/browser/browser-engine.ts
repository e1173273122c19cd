import type { Preprocessing } from '../../core/preprocessing.js';
import type { WebExportInfo } from '../export-web.js';

/** A model opened in the page's runtime: one preprocessed image in, class probabilities (label order) out. */
export interface BrowserEngine {
  run(data: Float32Array): Promise<number[]>;
  dispose(): void | Promise<void>;
}

/**
 * Opens the model `info` names, with its files and the runtime's wasm files under `base` (the export's folder).
 * One per web engine: ort-engine.ts (onnxruntime-web) and tfjs-engine.ts (TensorFlow.js).
 */
export type OpenEngine = (info: WebExportInfo, base: URL, pre: Preprocessing) => Promise<BrowserEngine>;
