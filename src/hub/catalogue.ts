import type { BackboneFormat } from '../engine/backbone.js';
import type { Layout, ResizeMode, Scale } from '../engine/preprocessing.js';

/** One named backbone Graft knows: where to get it, how to verify it, how to feed it. */
export interface CatalogueEntry {
  readonly name: string;
  readonly description: string;
  readonly format: BackboneFormat;
  /** Download address of the model file (ONNX) or of model.json (TF.js). Absent for bundled models. */
  readonly url?: string;
  /** File name the model is stored under in the cache and looked for in GRAFT_MODELS_DIR. */
  readonly fileName: string;
  /** Known sha256 model ids of this backbone (ONNX: the file; TF.js: model.json plus weights, see modelDirSha256). */
  readonly sha256: readonly string[];
  readonly inputSize: number;
  readonly scale: Scale;
  readonly layout: Layout;
  readonly resize: ResizeMode;
  readonly featureDim: number;
  /** Layer (TF.js) whose output is the feature vector, when it is not the model's output. */
  readonly featureLayer?: string;
  /** Where the weights come from; shown by `graft models` and recorded in manifests. */
  readonly license: string;
  /** Linear-probe validation accuracy measured on this project's machine (DESIGN.md), for choosing. */
  readonly probeAccuracy?: { readonly hymenoptera?: number; readonly flowers12?: number };
  /** Shipped inside an npm dependency: available offline on every install. */
  readonly bundled?: 'nsfwjs';
}

/**
 * Named backbones. Like transformers.js's SUPPORTED_TASKS: one frozen table, the only place a name maps to
 * files and preprocessing. Issue 3 grows it (MobileNetV3, EfficientNet, ResNet50, InceptionV3).
 */
export const CATALOGUE = {
  mobilenet_v2: {
    name: 'mobilenet_v2',
    description: 'ImageNet MobileNetV2 1.0, 224 px, int8 (ONNX Model Zoo); the best general backbone Graft ships a name for',
    format: 'onnx',
    url: 'https://github.com/onnx/models/raw/main/validated/vision/classification/mobilenet/model/mobilenetv2-12-int8.onnx',
    fileName: 'mobilenetv2-12-int8.onnx',
    sha256: ['cc028fe6cae7bc11a4ff53cfc9b79c920e8be65ce33a904ec3e2a8f66d77f95f'],
    inputSize: 224,
    scale: 'imagenet',
    layout: 'nchw',
    resize: 'center-crop',
    featureDim: 1280,
    license: 'Apache-2.0 (ONNX Model Zoo); torchvision weights BSD-3-Clause',
    probeAccuracy: { hymenoptera: 0.941, flowers12: 0.967 },
  },
  mobilenet_v2_035: {
    name: 'mobilenet_v2_035',
    description: 'ImageNet MobileNetV2 0.35, 224 px, TF.js layers: the Teachable Machine base (float, trainable)',
    format: 'tfjs-layers',
    url: 'https://storage.googleapis.com/teachable-machine-models/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top/model.json',
    fileName: 'model.json',
    // The base as extracted from a Teachable Machine export (all TM exports share these weights bit for bit).
    sha256: ['8229670557825baa32c1422546bd6f66ad97abf0a3530046a81ed6330a6f44e6'],
    inputSize: 224,
    scale: '-1..1',
    layout: 'nhwc',
    resize: 'center-crop',
    featureDim: 1280,
    license: 'Apache-2.0 (Keras applications weights)',
    probeAccuracy: { hymenoptera: 0.905, flowers12: 0.929 },
  },
  nsfwjs_mobilenet_v2: {
    name: 'nsfwjs_mobilenet_v2',
    description:
      'MobileNetV2 from the nsfwjs npm package (bundled, works offline); tuned for NSFW detection, so its general features are weak',
    format: 'tfjs-layers',
    fileName: 'model.json',
    sha256: [],
    inputSize: 224,
    scale: '0..1',
    layout: 'nhwc',
    resize: 'stretch',
    featureDim: 1280,
    featureLayer: 'flatten_1',
    license: 'MIT (nsfwjs)',
    probeAccuracy: { hymenoptera: 0.78 },
    bundled: 'nsfwjs',
  },
} as const satisfies Record<string, CatalogueEntry>;

export type CatalogueName = keyof typeof CATALOGUE;
export const CATALOGUE_NAMES = Object.keys(CATALOGUE) as CatalogueName[];

export function isCatalogueName(name: string): name is CatalogueName {
  return Object.prototype.hasOwnProperty.call(CATALOGUE, name);
}

/** The entry whose known ids include this sha256, if any: a local copy of a catalogue model. */
export function findEntryBySha256(sha256: string): CatalogueEntry | undefined {
  return Object.values(CATALOGUE).find((entry: CatalogueEntry) => entry.sha256.includes(sha256));
}
