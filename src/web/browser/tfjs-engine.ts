import type * as Tf from '@tensorflow/tfjs';
import type * as TfWasm from '@tensorflow/tfjs-backend-wasm';
import type { BrowserEngine, OpenEngine } from './browser-engine.js';

/** TensorFlow.js's global, defined by tf.min.js; tf-backend-wasm.min.js adds `tf.wasm`. */
declare const tf: (typeof Tf & { wasm?: typeof TfWasm }) | undefined;

/** Opens the TF.js layers model (tfjs/model.json) in TensorFlow.js's wasm backend. */
export const openTfjsEngine: OpenEngine = async (info, base, pre): Promise<BrowserEngine> => {
  if (typeof tf === 'undefined' || tf.wasm === undefined) throw new Error('TensorFlow.js is not loaded: include tf.min.js and tf-backend-wasm.min.js before classify.js');
  if (info.engine !== 'tfjs') throw new Error(`model.json is for ${info.engine}, not tfjs`);
  if (pre.layout !== 'nhwc') throw new Error(`The TF.js model takes NHWC input; model.json says ${pre.layout}`);
  const runtime = tf;
  // The backend picks its build itself: SIMD, and threaded SIMD when the page is cross-origin isolated.
  tf.wasm.setWasmPaths(base.href);
  if (!(await runtime.setBackend('wasm'))) throw new Error('TensorFlow.js could not start its wasm backend');
  const model = await runtime.loadLayersModel(new URL(info.tfjs.file, base).href);
  const shape: [number, number, number, number] = [1, pre.inputSize, pre.inputSize, 3];
  // The mirror test-time augmentation, when the model has one, is inside the layers model, as it is inside model.onnx.
  return {
    async run(data) {
      const p = runtime.tidy(() => {
        const x = runtime.tensor4d(data, shape, 'float32');
        const y = model.predict(x);
        // The first output holds the probabilities; a second, when present, the backbone features.
        return Array.isArray(y) ? y[0]! : y;
      });
      try {
        return Array.from(await p.data());
      } finally {
        p.dispose();
      }
    },
    dispose: () => {
      model.dispose();
    },
  };
};
