import type { ModelFormat } from '../core/model-format.js';
import type { Layout, ResizeMode, Scale } from '../core/preprocessing.js';

/** One named backbone Graft knows: where to get it, how to verify it, how to feed it. */
export interface CatalogueEntry {
  readonly name: string;
  readonly description: string;
  readonly format: ModelFormat;
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
  /**
   * Share of the short side the centre crop keeps: 0.875 for networks evaluated with ImageNet's resize-256-crop-224
   * protocol (all of them here but nsfwjs). Absent: 1.
   */
  readonly cropFraction?: number;
  readonly featureDim: number;
  /** Layer (TF.js) whose output is the feature vector, when it is not the model's output. */
  readonly featureLayer?: string;
  /** Where the weights come from; shown by `graft models` and recorded in manifests. */
  readonly license: string;
  /** Linear-probe validation accuracy measured on this project's machine (ARCHITECTURE.md), for choosing. */
  readonly probeAccuracy?: { readonly hymenoptera?: number; readonly flowers12?: number };
  /** Shipped inside an npm dependency: available offline on every install. */
  readonly bundled?: 'nsfwjs';
  /**
   * Whether `sha256` was checked against the real file. `'unverified'`: the URL is the published one but nobody has
   * hashed its bytes here, so `sha256` is empty and a download is accepted as served (it is still hashed and that
   * hash becomes the model id). Absent means verified.
   */
  readonly checksum?: 'verified' | 'unverified';
  /** Model card or documentation page (TF Hub/Kaggle, ONNX Model Zoo, Keras), for `graft models info`. */
  readonly homepage?: string;
  /**
   * A Keras weights-only .h5 (no model_config): the Keras application whose architecture the weights fit,
   * e.g. `EfficientNetB0` built with `include_top=False`.
   */
  readonly kerasApplication?: string;
  /** What else to know: where pooling happens, which tensor is the feature vector, why it is not the default. */
  readonly notes?: string;
}

/** The backbone used when none is named: measured best on this project's machine (ARCHITECTURE.md). */
export const DEFAULT_BACKBONE = 'mobilenet_v2';

/**
 * Named backbones. Like transformers.js's SUPPORTED_TASKS: one frozen table, the only place a name maps to
 * files and preprocessing.
 *
 * Sources: TF Hub TF.js models (tfhub.dev now redirects to Kaggle; `?tfjs-format=file` makes it serve the files),
 * the ONNX Model Zoo (github.com/onnx/models, validated/), and the Keras applications weights. TF Hub image models
 * take RGB in [0, 1]; Keras applications .h5 files are weights only, for the architecture in `kerasApplication`.
 * Entries marked `checksum: 'unverified'` have published URLs but no hash checked here.
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
    cropFraction: 0.875,
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
    cropFraction: 0.875,
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
  mobilenet_v2_100_tfhub: {
    name: 'mobilenet_v2_100_tfhub',
    description: 'ImageNet MobileNetV2 1.0, 224 px, TF Hub feature vector (TF.js graph model, float)',
    format: 'tfjs-graph',
    url: 'https://tfhub.dev/google/tfjs-model/imagenet/mobilenet_v2_100_224/feature_vector/3/default/1/model.json?tfjs-format=file',
    fileName: 'model.json',
    sha256: [],
    checksum: 'unverified',
    inputSize: 224,
    scale: '0..1',
    layout: 'nhwc',
    resize: 'center-crop',
    cropFraction: 0.875,
    featureDim: 1280,
    license: 'Apache-2.0 (TF Hub, Google)',
    homepage: 'https://www.kaggle.com/models/google/mobilenet-v2/tfJs/100-224-feature-vector',
  },
  mobilenet_v2_130_tfhub: {
    name: 'mobilenet_v2_130_tfhub',
    description: 'ImageNet MobileNetV2 1.3, 224 px, TF Hub feature vector (TF.js graph model, float)',
    format: 'tfjs-graph',
    url: 'https://tfhub.dev/google/tfjs-model/imagenet/mobilenet_v2_130_224/feature_vector/3/default/1/model.json?tfjs-format=file',
    fileName: 'model.json',
    sha256: [],
    checksum: 'unverified',
    inputSize: 224,
    scale: '0..1',
    layout: 'nhwc',
    resize: 'center-crop',
    cropFraction: 0.875,
    // Width multipliers above 1 widen the last 1x1 conv too: 1280 * 1.3.
    featureDim: 1664,
    license: 'Apache-2.0 (TF Hub, Google)',
    homepage: 'https://www.kaggle.com/models/google/mobilenet-v2/tfJs/130-224-feature-vector',
  },
  mobilenet_v3_small_100: {
    name: 'mobilenet_v3_small_100',
    description: 'ImageNet MobileNetV3-Small 1.0, 224 px, TF Hub feature vector (TF.js graph model, float); fastest',
    format: 'tfjs-graph',
    url: 'https://tfhub.dev/google/tfjs-model/imagenet/mobilenet_v3_small_100_224/feature_vector/5/default/1/model.json?tfjs-format=file',
    fileName: 'model.json',
    sha256: [],
    checksum: 'unverified',
    inputSize: 224,
    scale: '0..1',
    layout: 'nhwc',
    resize: 'center-crop',
    cropFraction: 0.875,
    featureDim: 1024,
    license: 'Apache-2.0 (TF Hub, Google)',
    homepage: 'https://www.kaggle.com/models/google/mobilenet-v3/tfJs/small-100-224-feature-vector',
  },
  mobilenet_v3_large_100: {
    name: 'mobilenet_v3_large_100',
    description: 'ImageNet MobileNetV3-Large 1.0, 224 px, TF Hub feature vector (TF.js graph model, float)',
    format: 'tfjs-graph',
    url: 'https://tfhub.dev/google/tfjs-model/imagenet/mobilenet_v3_large_100_224/feature_vector/5/default/1/model.json?tfjs-format=file',
    fileName: 'model.json',
    sha256: [],
    checksum: 'unverified',
    inputSize: 224,
    scale: '0..1',
    layout: 'nhwc',
    resize: 'center-crop',
    cropFraction: 0.875,
    featureDim: 1280,
    license: 'Apache-2.0 (TF Hub, Google)',
    homepage: 'https://www.kaggle.com/models/google/mobilenet-v3/tfJs/large-100-224-feature-vector',
  },
  efficientnet_lite4: {
    name: 'efficientnet_lite4',
    description: 'ImageNet EfficientNet-Lite4, 224 px, float (ONNX Model Zoo); the mobile-friendly EfficientNet (no swish, no SE)',
    format: 'onnx',
    url: 'https://github.com/onnx/models/raw/main/validated/vision/classification/efficientnet-lite4/model/efficientnet-lite4-11.onnx',
    fileName: 'efficientnet-lite4-11.onnx',
    sha256: [],
    checksum: 'unverified',
    inputSize: 224,
    // The model card scales (x - 127) / 128, which is [-1, 1] to within 1/256.
    scale: '-1..1',
    layout: 'nhwc',
    resize: 'center-crop',
    cropFraction: 0.875,
    featureDim: 1280,
    license: 'Apache-2.0 (ONNX Model Zoo; TensorFlow TPU EfficientNet-Lite weights)',
    homepage: 'https://github.com/onnx/models/tree/main/validated/vision/classification/efficientnet-lite4',
    notes: 'input "images:0" [N,224,224,3]; the pooled 1280-vector feeds the final MatMul',
  },
  resnet50_v1: {
    name: 'resnet50_v1',
    description: 'ImageNet ResNet50 v1, 224 px, float (ONNX Model Zoo resnet50-v1-12, MXNet GluonCV weights); ~98 MB',
    format: 'onnx',
    url: 'https://github.com/onnx/models/raw/main/validated/vision/classification/resnet/model/resnet50-v1-12.onnx',
    fileName: 'resnet50-v1-12.onnx',
    sha256: [],
    checksum: 'unverified',
    inputSize: 224,
    scale: 'imagenet',
    layout: 'nchw',
    resize: 'center-crop',
    cropFraction: 0.875,
    featureDim: 2048,
    license: 'Apache-2.0 (ONNX Model Zoo)',
    homepage: 'https://github.com/onnx/models/tree/main/validated/vision/classification/resnet',
    notes: 'input "data" [N,3,224,224]; the pooled 2048-vector feeds resnetv17_dense0_fwd',
  },
  resnet50_v2: {
    name: 'resnet50_v2',
    description: 'ImageNet ResNet50 v2 (pre-activation), 224 px, float (ONNX Model Zoo resnet50-v2-7); ~98 MB',
    format: 'onnx',
    url: 'https://github.com/onnx/models/raw/main/validated/vision/classification/resnet/model/resnet50-v2-7.onnx',
    fileName: 'resnet50-v2-7.onnx',
    sha256: [],
    checksum: 'unverified',
    inputSize: 224,
    scale: 'imagenet',
    layout: 'nchw',
    resize: 'center-crop',
    cropFraction: 0.875,
    featureDim: 2048,
    license: 'Apache-2.0 (ONNX Model Zoo)',
    homepage: 'https://github.com/onnx/models/tree/main/validated/vision/classification/resnet',
  },
  inception_v3: {
    name: 'inception_v3',
    description: 'ImageNet InceptionV3, 299 px, TF Hub feature vector (TF.js graph model), as in the TF Hub transfer-learning tutorials',
    format: 'tfjs-graph',
    url: 'https://tfhub.dev/google/tfjs-model/imagenet/inception_v3/feature_vector/3/default/1/model.json?tfjs-format=file',
    fileName: 'model.json',
    sha256: [],
    checksum: 'unverified',
    inputSize: 299,
    scale: '0..1',
    layout: 'nhwc',
    resize: 'center-crop',
    cropFraction: 0.875,
    featureDim: 2048,
    license: 'Apache-2.0 (TF Hub, Google)',
    homepage: 'https://www.kaggle.com/models/google/inception-v3/tfJs/feature-vector',
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

