import { defaultCacheDir } from '../core/cache-dir.js';
import { featureBackbone } from '../engine/feature-backbone.js';
import { onnxModelOf } from '../engine/onnx-model-of.js';
import { backboneFromOptions, type BackboneHandle } from '../engine/open-backbone.js';
import { DEFAULT_TRAIN } from '../learn/train-config.js';
import type { ModelProto } from '../onnx/onnx-model.js';
import type { HeadBackboneOptions } from './head-backbone-options.js';

/**
 * The backbone opened (not loaded) and seen as heads see it: `featureBackbone`'s view, as train() takes it. Apart from
 * the options' file: its ONNX model type is no public type (a consumer's type check must not reach onnx-proto).
 */
export async function openHeadBackbone(options: HeadBackboneOptions): Promise<{ handle: BackboneHandle; backboneModel: ModelProto; cacheDir: string }> {
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const source = await backboneFromOptions({ ...options, backbone: options.backbone ?? 'mobilenet_v2', cacheDir });
  const backboneModel = await onnxModelOf(source);
  const handle = featureBackbone(source, backboneModel, { multiScale: options.multiScale ?? DEFAULT_TRAIN.multiScale, engine: options.engine, onProgress: options.onProgress });
  return { handle, backboneModel, cacheDir };
}
