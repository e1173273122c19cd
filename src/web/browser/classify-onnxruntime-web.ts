/**
 * classify.js of an onnxruntime-web export, bundled by Vite into an IIFE that defines the global `GraftWeb`
 * (scripts/bundle-web-classify.mjs). The page loads ort.wasm.min.js first.
 * @example
 * const classifier = await GraftWeb.load('./');
 * const { predictions } = await classifier.classify(document.querySelector('img'));
 */
import { makeLoad } from './web-classifier.js';
import { openOrtEngine } from './ort-engine.js';

// The shared preprocessing arithmetic, for pages that prepare pixels themselves.
export { channelAffine, pixelsToTensor } from '../../core/pixel-tensor.js';
export const load = makeLoad(openOrtEngine);
