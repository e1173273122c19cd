import type * as Ort from 'onnxruntime-web';
import type { BrowserEngine, OpenEngine } from './browser-engine.js';

/** onnxruntime-web's global, defined by ort.wasm.min.js (loaded by the page before classify.js). */
declare const ort: typeof Ort | undefined;

/** Opens model.onnx in onnxruntime-web (wasm). */
export const openOrtEngine: OpenEngine = async (info, base, pre): Promise<BrowserEngine> => {
  if (typeof ort === 'undefined') throw new Error('onnxruntime-web is not loaded: include ort.wasm.min.js before classify.js');
  if (info.engine !== 'onnxruntime-web') throw new Error(`model.json is for ${info.engine}, not onnxruntime-web`);
  const runtime = ort;
  runtime.env.wasm.wasmPaths = base.href;
  // Threads need cross-origin isolation (COOP/COEP headers); without it onnxruntime-web runs one thread.
  runtime.env.wasm.numThreads = globalThis.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  const session = await runtime.InferenceSession.create(new URL(info.onnx.file, base).href, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const shape = pre.layout === 'nchw' ? [1, 3, pre.inputSize, pre.inputSize] : [1, pre.inputSize, pre.inputSize, 3];
  const { input, probabilities } = info.onnx;
  return {
    async run(data) {
      const results = await session.run({ [input]: new runtime.Tensor('float32', data, shape) }, [probabilities]);
      const output = results[probabilities];
      if (output === undefined) throw new Error(`model.onnx has no output "${probabilities}"`);
      return Array.from(output.data as Float32Array);
    },
    dispose: () => session.release(),
  };
};
