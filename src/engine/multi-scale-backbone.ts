import { encodeOnnxModel, type ModelProto } from '../onnx/onnx-model.js';
import { FEATURE_OUTPUT } from '../onnx/feature-output.js';
import { multiScaleInputSize, multiScaleModel } from '../onnx/multi-scale.js';
import { CORNER_CROPS, cornerCropsModel } from '../onnx/corner-crops.js';
import type { BackboneInfo } from './backbone.js';
import type { BackboneHandle } from './open-backbone.js';
import { onnxModelOf, withOnnxModel } from './onnx-model-of.js';
import { OrtBackbone } from './ort-backbone.js';
import { cropFractionOf } from '../core/preprocessing.js';

/** The crop of the first scale when the backbone's preprocessing keeps the whole short side: ImageNet's evaluation crop. */
export const DEFAULT_SCALE_CROP = 0.875;

/**
 * The backbone seen at two scales (see wrapMultiScale): features are [centre crop | whole square], 2D wide, from a
 * model whose input is the image's centred square at S / crop. Only for centre-crop preprocessing; anything else is
 * returned as it is (`scales` unset). Its features are cached apart from single-scale ones (`info.scales`).
 */
export function multiScaleBackbone(handle: BackboneHandle): BackboneHandle {
  const pre = handle.info.preprocessing;
  if (pre.resize !== 'center-crop' || handle.info.scales) return handle;
  const crop = cropFractionOf(pre) < 1 ? cropFractionOf(pre) : DEFAULT_SCALE_CROP;
  const { cropFraction: _dropped, ...rest } = pre;
  const info: BackboneInfo = {
    ...handle.info,
    preprocessing: { ...rest, inputSize: multiScaleInputSize(pre.inputSize, crop) },
    featureDim: 2 * handle.info.featureDim,
    featureOutput: FEATURE_OUTPUT,
    scales: [crop, 1],
  };
  let wrapped: Promise<ModelProto> | undefined;
  let bytes: Uint8Array | undefined;
  const onnxModel = (): Promise<ModelProto> =>
    (wrapped ??= onnxModelOf(handle).then((model) =>
      multiScaleModel(model, {
        input: model.graph?.input?.[0]?.name ?? 'input',
        features: handle.onnxFeatureOutput,
        featureDim: handle.info.featureDim,
        inputSize: pre.inputSize,
        cropFraction: crop,
        layout: pre.layout,
        output: FEATURE_OUTPUT,
      }),
    ));
  const onnxBytes = async (): Promise<Uint8Array> => (bytes ??= encodeOnnxModel(await onnxModel()));
  const loadCorners = async (): Promise<OrtBackbone> => {
    const model = await onnxModelOf(handle);
    const corners = cornerCropsModel(model, {
      input: model.graph?.input?.[0]?.name ?? 'input',
      features: handle.onnxFeatureOutput,
      featureDim: handle.info.featureDim,
      inputSize: pre.inputSize,
      outerSize: info.preprocessing.inputSize,
      layout: pre.layout,
      output: CORNERS_OUTPUT,
    });
    return OrtBackbone.create(encodeOnnxModel(corners), { ...info, featureOutput: CORNERS_OUTPUT, featureDim: CORNER_CROPS * handle.info.featureDim });
  };
  return withOnnxModel({ info, onnxBytes, onnxFeatureOutput: FEATURE_OUTPUT, load: async () => OrtBackbone.create(await onnxBytes(), info), loadCorners }, onnxModel);
}

/** The corner-crop model's output: [N, 4D], the four crops' features side by side. */
const CORNERS_OUTPUT = 'graft_corner_features';

/** A short id of a multi-scale setting, for cache keys (undefined for a single scale). */
export function scalesVariant(info: Pick<BackboneInfo, 'scales'>): string | undefined {
  return info.scales ? `scales=${info.scales.join(',')}` : undefined;
}
