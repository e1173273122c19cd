import { fixedInputBatch } from '../onnx/batch-dim.js';
import { opsetVersion, type ModelProto } from '../onnx/onnx-model.js';
import type { RuntimeName } from '../core/model-format.js';
import type { ProgressListener } from '../core/progress.js';
import { multiScaleBackbone } from './multi-scale-backbone.js';
import type { BackboneHandle } from './open-backbone.js';

/** What a backbone can run besides one image per input: mirror TTA and multi-scale features both double the batch. */
export interface ViewLimits {
  /** Why test-time augmentation cannot run (undefined: it can). */
  readonly noTta?: string;
  /** Why multi-scale features cannot run (undefined: they can). */
  readonly noMultiScale?: string;
}

/**
 * Test-time augmentation and multi-scale features run two images per input image, so the batch must be free; and
 * they need ONNX opset 10 (Slice with steps) and 11 (Resize with sizes).
 */
export function viewLimits(model: ModelProto): ViewLimits {
  const batch = fixedInputBatch(model);
  const opset = opsetVersion(model) ?? 0;
  const fixed = batch === undefined ? undefined : `the backbone's batch is fixed at ${batch}`;
  const noTta = fixed ?? (opset < 10 ? `the backbone uses ONNX opset ${opset} (< 10)` : undefined);
  const noMultiScale = fixed ?? (opset < 11 ? `the backbone uses ONNX opset ${opset} (< 11)` : undefined);
  return { ...(noTta ? { noTta } : {}), ...(noMultiScale ? { noMultiScale } : {}) };
}

export interface FeatureBackboneOptions {
  /** See the image at two scales (the default of `graft train` and `graft embed`). */
  readonly multiScale: boolean;
  /** Fine-tuning trains one pass of the network: one scale. */
  readonly isFineTuning?: boolean;
  /** A TF.js backbone running in tfjs cannot take the ONNX wrapper: one scale. */
  readonly engine?: RuntimeName;
  readonly onProgress?: ProgressListener;
}

/**
 * The backbone as heads see it: at two scales by default (multiScaleBackbone), at one when asked or when it cannot
 * (fine-tuning, tfjs, a stretch resize, a fixed batch, an old opset), saying why. `graft train`, `graft embed` and
 * training from feature stores all use this, so features embedded once serve a training run.
 */
export function featureBackbone(handle: BackboneHandle, model: ModelProto, options: FeatureBackboneOptions): BackboneHandle {
  if (!options.multiScale) return handle;
  const why = options.isFineTuning
    ? 'fine-tuning trains one pass of the network'
    : options.engine === 'tfjs'
      ? 'the backbone runs in tfjs (--engine tfjs)'
      : handle.info.preprocessing.resize !== 'center-crop'
        ? `its preprocessing is ${handle.info.preprocessing.resize}, not center-crop`
        : viewLimits(model).noMultiScale;
  if (why) {
    options.onProgress?.({ type: 'info', message: `one scale: ${why}` });
    return handle;
  }
  return multiScaleBackbone(handle);
}
