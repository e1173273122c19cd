/**
 * classify.js of a TF.js export, bundled by Vite into an IIFE that defines the global `GraftWeb`
 * (scripts/bundle-web-classify.mjs). The page loads tf.min.js and tf-backend-wasm.min.js first.
 * @example
 * const classifier = await GraftWeb.load('./');
 * const { predictions } = await classifier.classify(document.querySelector('img'));
 */
import { makeLoad } from './web-classifier.js';
import { openTfjsEngine } from './tfjs-engine.js';

// The shared preprocessing arithmetic, for pages that prepare pixels themselves.
export { channelAffine, pixelsToTensor } from '../../core/pixel-tensor.js';
export const load = makeLoad(openTfjsEngine);
