import { CLASSIFY_ONNXRUNTIME_WEB_JS, CLASSIFY_TFJS_JS as TFJS_BUNDLE } from './classify-bundles.generated.js';

/*
 * `classify.js` of a web export: one self-contained browser script per engine (no dependencies besides the
 * engine's global: `ort` from ort.wasm.min.js, or `tf` from tf.min.js + tf-backend-wasm.min.js) that
 * preprocesses an image as the server does and runs the model. It defines `GraftWeb.load(baseUrl)`
 * (src/web/browser/web-classifier.ts) and the shared arithmetic `GraftWeb.channelAffine` and `GraftWeb.pixelsToTensor`.
 *
 * Written in TypeScript under src/web/browser and bundled by Vite at build time (scripts/generate.mjs): the
 * preprocessing arithmetic is src/core/pixel-tensor.ts, the very module the Node decoder runs, and the
 * browser-only steps (canvas resize, crop, EXIF orientation) are documented in src/web/browser/preprocess-image.ts.
 */

/** classify.js for the onnxruntime-web export (ort.wasm.min.js loaded first): runs model.onnx. */
export const CLASSIFY_JS: string = CLASSIFY_ONNXRUNTIME_WEB_JS;

/**
 * classify.js for the TF.js export (tf.min.js and tf-backend-wasm.min.js loaded first): runs tfjs/model.json in
 * TensorFlow.js's wasm backend (a mirror test-time augmentation is inside that model, as in model.onnx).
 */
export const CLASSIFY_TFJS_JS: string = TFJS_BUNDLE;
