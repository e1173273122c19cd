import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { GraftError } from '../core/errors.js';
import { FEATURE_OUTPUT } from '../onnx/feature-output.js';
import { disposeLayersModel } from '../readers/dispose-layers-model.js';
import type { FeatureRequest, FeatureSource } from './format-entry.js';
import { checkRgbInput } from './rgb-input.js';
import { readCachedExport, writeCachedExport } from './cached-export.js';

/** What building a TF.js backbone found; cached beside its ONNX export. */
interface LayersDescription {
  readonly featureDim: number;
  readonly featureOutput: string;
  readonly inputSize: number | null;
  /** The input's channel count, where it declares one. */
  readonly channels?: number | null;
}

/**
 * The automatic feature layer's name in the export's file name. Bump it when the rules change (2: a classifier at the
 * end is cut off, readers/feature-cut.ts; 3: through a mirror Average, and at the first of several outputs), so an
 * export of the old choice is not read.
 */
const AUTO_CHOICE = 'auto-3';

/** Builds a format's model in tfjs, cut at `featureLayer` (the format's own choice when undefined). */
export type FeatureModelBuilder = (featureLayer: string | undefined) => Promise<tf.LayersModel>;

/**
 * The features of a model that loads as a tfjs layers model (TF.js layers, Keras .h5), exported to ONNX for
 * onnxruntime. The export and its description are keyed by the source's hash and the feature layer: made once per
 * model, together (the model built to describe it is exported and freed before this returns), so a warm run neither
 * builds the tfjs model nor exports it, and no built model outlives the call that built it.
 */
export async function openLayersModelFeatures(request: FeatureRequest, build: FeatureModelBuilder): Promise<FeatureSource> {
  const featureLayer = request.featureOutput ?? request.catalogue?.featureLayer;
  const stem = join(request.cacheDir, 'exports', `${request.sha256}-${(featureLayer ?? AUTO_CHOICE).replace(/[^\w.-]/g, '_')}`);
  const exportPath = `${stem}.onnx`;
  const descPath = `${stem}.json`;
  const cached = await readCachedExport<LayersDescription>(exportPath, descPath, request.source, request.onProgress);
  // tfjs (and the exporter, which imports it) load only when the model must be built: not on a warm run.
  const buildModel = async (): Promise<tf.LayersModel> => {
    const { ensureTfjsBackend, warnOnFallback } = await import('../runtime/tfjs-backend.js');
    await ensureTfjsBackend(warnOnFallback(request.onProgress));
    return build(featureLayer);
  };
  const check = (description: LayersDescription): void =>
    checkRgbInput(description.channels, [null, description.inputSize, description.inputSize, description.channels], request.source);
  // The export and its description, stored together: the next open of this model reads them and builds nothing.
  const exportModel = async (model: tf.LayersModel, description: LayersDescription): Promise<Uint8Array> => {
    const { exportLayersModelToOnnx } = await import('../tfjs-to-onnx/layers-model-to-onnx.js');
    const exported = exportLayersModelToOnnx(model, { featureOutputName: FEATURE_OUTPUT });
    await writeCachedExport(exportPath, descPath, exported, description);
    return exported;
  };
  let bytes: Uint8Array | undefined;
  let description: LayersDescription;
  if (cached) {
    check((description = cached.description));
    bytes = cached.bytes;
  } else {
    // A cold cache: the model built to describe it is exported at once (nearly every caller wants the export next)
    // and freed. Kept for a first user instead, it stayed in tfjs's memory for the life of the process when none came.
    const built = await buildModel();
    try {
      check((description = describeLayersModel(built, request.source, featureLayer)));
      // A layer the exporter cannot write fails at first use of the export, not here: the tfjs runtime
      // (--engine tfjs) still runs such a model.
      bytes = await exportModel(built, description).catch(() => undefined);
    } finally {
      disposeLayersModel(built);
    }
  }
  const { featureDim, featureOutput, inputSize } = description;
  const onnxBytes = async (): Promise<Uint8Array> => {
    if (bytes) return bytes;
    if (existsSync(exportPath)) return (bytes = new Uint8Array(await readFile(exportPath)));
    // Not made at open (a layer the exporter cannot write: this throws its message), or removed since (graft cache
    // clear): made again.
    const built = await buildModel();
    try {
      return (bytes = await exportModel(built, description));
    } finally {
      disposeLayersModel(built);
    }
  };
  return {
    featureDim,
    featureOutput,
    declared: { layout: 'nhwc', ...(inputSize === null ? {} : { inputSize }) },
    onnxFeatureOutput: FEATURE_OUTPUT,
    onnxBytes,
    // A model of the caller's own, each call: tfjs frees no weights by itself, so whoever holds a model frees it.
    layersModel: buildModel,
    ortMessage: 'TF.js model exported to ONNX for speed',
  };
}

/** What the features of a built model are: its output's size and name, and its input's size and channels. */
function describeLayersModel(model: tf.LayersModel, source: string, featureLayer: string | undefined): LayersDescription {
  const outShape = model.outputs[0]?.shape ?? [];
  const featureDim = outShape.slice(1).reduce<number>((a, b) => a * (b ?? Number.NaN), 1);
  if (!Number.isFinite(featureDim)) {
    throw new GraftError('UNSUPPORTED_MODEL', `${source} outputs ${JSON.stringify(outShape)}: Graft needs a fixed-size feature vector`, {
      hint: 'pass --feature-output <layer name> naming a pooled or flattened layer',
    });
  }
  const [, h, , c] = model.inputs[0]?.shape ?? [];
  return { featureDim, featureOutput: featureLayer ?? model.outputs[0]?.name ?? 'output', inputSize: typeof h === 'number' ? h : null, channels: typeof c === 'number' ? c : null };
}
