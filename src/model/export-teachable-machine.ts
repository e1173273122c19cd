import { readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { convertModel } from '../convert/convert-model.js';
import { writeDirectoryStaged } from '../core/atomic-write.js';
import { GraftError } from '../core/errors.js';
import { channelAffine, cropFractionOf } from '../core/preprocessing.js';
import { assertOverwriteAllowed, TEACHABLE_MACHINE_OUTPUT } from '../core/replaceable-output.js';
import { forgetWorkingPath, workingPathFor } from '../core/unfinished-writes.js';
import { CHECK_INPUTS, CHECK_SAMPLES, checkInput, maxDiff, runOnnxOutput } from '../formats/conversion-check.js';
import { TEACHABLE_MACHINE_INPUT, teachableMachineModels, type ClassifierInput } from '../onnx-to-layers/teachable-machine-model.js';
import { disposeLayersModel } from '../readers/dispose-layers-model.js';
import { saveLayersModelToDir } from '../readers/save-layers-model.js';
import { loadLayersModelFromDir } from '../readers/tfjs-layers.js';
import { readModelDir, requireProbabilityPerLabel, type ModelManifest } from './manifest.js';
import { classifierOnnxBytes, readModelDirOnnx } from './model-dir-onnx.js';
import { makeDirectory } from '../core/make-directory.js';

/** The file Teachable Machine's and ml5's libraries read the labels from, beside model.json. */
export const TEACHABLE_MACHINE_METADATA_FILE = 'metadata.json';

/** The wrapped model against the converted classifier fed by tf.image's resize: only float rounding may differ. */
const WRAP_TOLERANCE = 1e-4;
/** The same for the backbone features of each view, which the probabilities' saturation on random inputs cannot hide. */
const FEATURES_TOLERANCE = 1e-3;

export interface TeachableMachineExport {
  readonly out: string;
  readonly labels: readonly string[];
  /** model.json + weights.bin + metadata.json. */
  readonly bytes: number;
  /** The side of the square the model takes (what those libraries feed). */
  readonly imageSize: number;
  /** The model directory's mirror test-time augmentation, inside the exported model. */
  readonly testTimeAugmentation: boolean;
  readonly check: {
    readonly inputs: string;
    readonly samples: number;
    /** Against the converted classifier fed the same square, cropped and resized by tf.image, scaled as it expects. */
    readonly maxAbsDiff: number;
    readonly tolerance: number;
    /**
     * The same for the classifier's features, of the image and of its mirror image: a float model's probabilities on
     * random inputs are 0.99997 whatever its scale or mirror, its features are not.
     */
    readonly features?: { readonly maxAbsDiff: number; readonly tolerance: number };
    /** The same inputs through model.onnx in onnxruntime (informative: a quantized model's integer kernels differ). */
    readonly onnxruntime: { readonly maxAbsDiff: number };
  };
  /** What the user must know, e.g. that the model trained on stretched images and Teachable Machine crops. */
  readonly notes: readonly string[];
}

/**
 * Exports a model directory as a Teachable Machine image model: `model.json`, `weights.bin` and `metadata.json` (the
 * labels), a folder that `tmImage.load(url + 'model.json', url + 'metadata.json')` and `ml5.imageClassifier(url +
 * 'model.json')` load in place of one Teachable Machine made. Their libraries feed a 224 x 224 square scaled v / 127 - 1
 * and read the first output as the class probabilities; the exported model turns that square into what the model
 * directory's backbone expects (scale, centre crop, size) and keeps its mirror test-time augmentation, all as layers.
 * Checked numerically before anything is written; a non-empty `out` is refused unless `overwrite` (and even then,
 * anything but an earlier Teachable Machine model folder).
 */
export async function exportTeachableMachine(modelDir: string, options: { out?: string; overwrite?: boolean } = {}): Promise<TeachableMachineExport> {
  const { root, manifest, manifestPath, onnxPath } = await readModelDir(modelDir);
  const out = resolve(options.out ?? `${root}-tm`);
  await assertOverwriteAllowed(out, options.overwrite, TEACHABLE_MACHINE_OUTPUT, [root]);
  // A directory edited by hand fails here, naming its files, rather than in the conversion of a working copy.
  const onnx = await readModelDirOnnx(manifest, { manifestPath, onnxPath });
  const pre = manifest.preprocessing;
  const mirror = manifest.onnx.tta === 'mirror';
  const { mul, add } = channelAffine(pre);
  const input: ClassifierInput = { inputSize: pre.inputSize, cropFraction: cropFractionOf(pre), mul, add, mirror };
  // The classifier without its mirror (layers have none) is converted and checked by `graft convert`'s own path.
  const work = workingPathFor(out, 'source');
  try {
    await makeDirectory(work);
    const source = join(work, 'model.onnx');
    await writeFile(source, classifierOnnxBytes(onnx, manifest.onnx));
    await convertModel(source, { to: 'tfjs', out: join(work, 'tfjs') }).catch((error: unknown) => {
      throw namingModelOnnx(error, source, onnxPath);
    });
    const classifier = await loadLayersModelFromDir(join(work, 'tfjs'));
    // The exported model shares the classifier's weights; freeing both frees each weight once.
    const weights = classifier.weights.map((weight) => weight.read());
    const dims: [number, number, number, number] = [CHECK_SAMPLES, TEACHABLE_MACHINE_INPUT.size, TEACHABLE_MACHINE_INPUT.size, 3];
    const x = tf.tensor4d(checkInput(dims), dims);
    let model: tf.LayersModel | undefined;
    try {
      const side = classifier.inputs[0]!.shape[1];
      if (side !== pre.inputSize) {
        throw new GraftError('INVALID_MODEL_DIR', `${onnxPath} takes ${side} x ${side} images but graft.json says ${pre.inputSize}`, { hint: 'retrain the model directory with graft train' });
      }
      const models = teachableMachineModels(classifier, input);
      model = models.model;
      const [actual, ...features] = predictOutputs(models.checkModel, x);
      // Teachable Machine's library names output i by labels[i]: a label more or less would shift or drop classes.
      requireProbabilityPerLabel(actual!, CHECK_SAMPLES, manifest.labels, { onnxPath, manifestPath });
      const scaled = classifierInput(x, input);
      let reference: Float32Array[];
      let ort: Float32Array;
      try {
        reference = referenceOutputs(classifier, scaled, mirror);
        ort = await onnxruntimeProbabilities(onnxPath, manifest.onnx, scaled, pre.layout);
      } finally {
        scaled.dispose();
      }
      const maxAbsDiff = maxDiff(actual!, reference[0]!);
      const featuresMaxAbsDiff = features.length === 0 ? undefined : Math.max(...features.map((f, i) => maxDiff(f, reference[i + 1] ?? [])));
      if (!(maxAbsDiff <= WRAP_TOLERANCE) || !(featuresMaxAbsDiff === undefined || featuresMaxAbsDiff <= FEATURES_TOLERANCE)) {
        throw new GraftError(
          'INTERNAL',
          `The Teachable Machine model made of ${onnxPath} does not match it: max abs diff ${maxAbsDiff} (tolerance ${WRAP_TOLERANCE}), of its features ${featuresMaxAbsDiff ?? 'none'} (tolerance ${FEATURES_TOLERANCE}); nothing was written`,
        );
      }
      const metadata = `${JSON.stringify(teachableMachineMetadata(root, manifest, mirror), null, 2)}\n`;
      const built = model;
      const bytes = await writeDirectoryStaged(
        out,
        'exporting',
        async (staging) => {
          const saved = await saveLayersModelToDir(built, staging);
          const reloaded = await loadLayersModelFromDir(staging);
          let reloadDiff: number;
          try {
            reloadDiff = maxDiff(actual!, predictOutputs(reloaded, x)[0]!);
          } finally {
            disposeLayersModel(reloaded);
          }
          if (reloadDiff !== 0) throw new GraftError('INTERNAL', `The Teachable Machine model written for ${root} does not reproduce the one built (max abs diff ${reloadDiff}); nothing was written`);
          await writeFile(join(staging, TEACHABLE_MACHINE_METADATA_FILE), metadata);
          return saved.bytes + Buffer.byteLength(metadata);
        },
        { create: false, owns: TEACHABLE_MACHINE_OUTPUT.owns },
      );
      return {
        out,
        labels: manifest.labels,
        bytes,
        imageSize: TEACHABLE_MACHINE_INPUT.size,
        testTimeAugmentation: mirror,
        check: {
          inputs: CHECK_INPUTS,
          samples: CHECK_SAMPLES,
          maxAbsDiff,
          tolerance: WRAP_TOLERANCE,
          ...(featuresMaxAbsDiff === undefined ? {} : { features: { maxAbsDiff: featuresMaxAbsDiff, tolerance: FEATURES_TOLERANCE } }),
          onnxruntime: { maxAbsDiff: maxDiff(actual!, ort) },
        },
        notes: pre.resize === 'stretch' ? [STRETCH_NOTE] : [],
      };
    } finally {
      x.dispose();
      if (model) disposeLayersModel(model);
      for (const weight of weights) if (!weight.isDisposed) weight.dispose();
    }
  } finally {
    await rm(work, { recursive: true, force: true });
    forgetWorkingPath(work);
  }
}

/** A conversion failure names the working copy it read; the user knows the file as the model directory's model.onnx. */
function namingModelOnnx(error: unknown, workingCopy: string, onnxPath: string): unknown {
  if (!(error instanceof GraftError) || !error.message.includes(workingCopy)) return error;
  return new GraftError(error.code, error.message.replaceAll(workingCopy, onnxPath), { hint: error.hint, cause: error });
}

const STRETCH_NOTE =
  "the model was trained on whole images stretched to a square (resize: stretch); ml5's imageClassifier stretches too, but Teachable Machine's library crops the centre square, which on photos far from square is not what the model saw";

/** TM's metadata.json: the fields its library and ml5 read (labels), fill in, or show, and where the model came from. */
function teachableMachineMetadata(root: string, manifest: ModelManifest, mirror: boolean) {
  // No path of this machine: the folder is made to be published.
  return {
    tfjsVersion: tf.version.tfjs,
    packageName: '@teachablemachine/image',
    modelName: basename(root),
    timeStamp: new Date().toISOString(),
    labels: manifest.labels,
    imageSize: TEACHABLE_MACHINE_INPUT.size,
    userMetadata: {
      graft: {
        trainedWith: manifest.versions['graft'] ? `graft ${manifest.versions['graft']}` : 'graft',
        backbone: manifest.backbone.name,
        input: `${TEACHABLE_MACHINE_INPUT.size} x ${TEACHABLE_MACHINE_INPUT.size} RGB, each byte v as v / ${TEACHABLE_MACHINE_INPUT.divisor} - 1 (what Teachable Machine's and ml5's libraries feed)`,
        ...(mirror ? { testTimeAugmentation: 'mirror: the probabilities of the image and of its mirror image, averaged inside the model' } : {}),
      },
    },
  };
}

/** The classifier's own input (NHWC) for TM's squares `x`: bytes back, crop, tf.image's half-pixel bilinear, scale. */
function classifierInput(x: tf.Tensor4D, input: ClassifierInput): tf.Tensor4D {
  return tf.tidy(() => {
    const side = TEACHABLE_MACHINE_INPUT.size;
    const margin = Math.round((side * (1 - input.cropFraction)) / 2);
    const cropped = side - 2 * margin;
    let v: tf.Tensor4D = x.add(1).mul(TEACHABLE_MACHINE_INPUT.divisor);
    if (margin > 0) v = v.slice([0, margin, margin, 0], [-1, cropped, cropped, 3]);
    if (cropped !== input.inputSize) v = tf.image.resizeBilinear(v, [input.inputSize, input.inputSize], false, true);
    return v.mul(tf.tensor1d([...input.mul])).add(tf.tensor1d([...input.add]));
  });
}

/** model.onnx (with its mirror) in onnxruntime on the classifier's inputs, as the model directory runs it. */
async function onnxruntimeProbabilities(onnxPath: string, io: { input: string; probabilities: string }, nhwc: tf.Tensor4D, layout: 'nchw' | 'nhwc'): Promise<Float32Array> {
  const feed = layout === 'nchw' ? tf.tidy(() => nhwc.transpose([0, 3, 1, 2])) : nhwc.clone();
  try {
    const result = await runOnnxOutput(await readFile(onnxPath), io.input, io.probabilities, feed.dataSync() as Float32Array, feed.shape);
    return result.data;
  } finally {
    feed.dispose();
  }
}

/** Every output's values. */
function predictOutputs(model: tf.LayersModel, x: tf.Tensor4D): Float32Array[] {
  return tf.tidy(() => outputsOf(model.predict(x)).map((y) => y.dataSync().slice() as Float32Array));
}

/**
 * What the check model should answer: the classifier's probabilities (with `mirror`, averaged with those of the mirror
 * images; NHWC: width is axis 2), then its other outputs for the images and, with `mirror`, for their mirror images.
 */
function referenceOutputs(classifier: tf.LayersModel, x: tf.Tensor4D, mirror: boolean): Float32Array[] {
  return tf.tidy(() => {
    const plain = outputsOf(classifier.predict(x));
    const mirrored = mirror ? outputsOf(classifier.predict(tf.reverse(x, 2))) : undefined;
    const probabilities = mirrored ? plain[0]!.add(mirrored[0]!).div(2) : plain[0]!;
    return [probabilities, ...plain.slice(1), ...(mirrored?.slice(1) ?? [])].map((y) => y.dataSync().slice() as Float32Array);
  });
}

function outputsOf(y: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
  return Array.isArray(y) ? y : [y];
}
