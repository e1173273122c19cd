import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from '../core/atomic-write.js';
import { GraftError } from '../core/errors.js';
import { FEATURE_OUTPUT } from '../onnx/feature-output.js';
import type { FeatureRequest, FeatureSource } from './format-entry.js';
import { checkRgbInput } from './rgb-input.js';

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
 * end is cut off, readers/feature-cut.ts), so an export of the old choice is not read.
 */
const AUTO_CHOICE = 'auto-2';

/** Builds a format's model in tfjs, cut at `featureLayer` (the format's own choice when undefined). */
export type FeatureModelBuilder = (featureLayer: string | undefined) => Promise<tf.LayersModel>;

/**
 * The features of a model that loads as a tfjs layers model (TF.js layers, Keras .h5), exported to ONNX for
 * onnxruntime. The export and its description are keyed by the source's hash and the feature layer: made once per
 * model, so a warm run neither builds the tfjs model nor exports it.
 */
export async function openLayersModelFeatures(request: FeatureRequest, build: FeatureModelBuilder): Promise<FeatureSource> {
  const featureLayer = request.featureOutput ?? request.catalogue?.featureLayer;
  const stem = join(request.cacheDir, 'exports', `${request.sha256}-${(featureLayer ?? AUTO_CHOICE).replace(/[^\w.-]/g, '_')}`);
  const exportPath = `${stem}.onnx`;
  const descPath = `${stem}.json`;
  let description = existsSync(descPath) && existsSync(exportPath) ? (JSON.parse(await readFile(descPath, 'utf8')) as LayersDescription) : undefined;
  let model: tf.LayersModel | undefined;
  // tfjs (and the exporter, which imports it) load only when the model must be built: not on a warm run.
  const buildModel = async (): Promise<tf.LayersModel> => {
    const { ensureTfjsBackend, warnOnFallback } = await import('../runtime/tfjs-backend.js');
    await ensureTfjsBackend(warnOnFallback(request.onProgress));
    return build(featureLayer);
  };
  if (!description) {
    model = await buildModel();
    const outShape = model.outputs[0]?.shape ?? [];
    const featureDim = outShape.slice(1).reduce<number>((a, b) => a * (b ?? Number.NaN), 1);
    if (!Number.isFinite(featureDim)) {
      throw new GraftError('UNSUPPORTED_MODEL', `${request.source} outputs ${JSON.stringify(outShape)}: Graft needs a fixed-size feature vector`, {
        hint: 'pass --feature-output <layer name> naming a pooled or flattened layer',
      });
    }
    const [, h, , c] = model.inputs[0]?.shape ?? [];
    description = { featureDim, featureOutput: featureLayer ?? model.outputs[0]?.name ?? 'output', inputSize: typeof h === 'number' ? h : null, channels: typeof c === 'number' ? c : null };
  }
  const { featureDim, featureOutput, inputSize, channels } = description;
  try {
    checkRgbInput(channels, [null, inputSize, inputSize, channels], request.source);
  } catch (error) {
    model?.dispose();
    throw error;
  }
  let bytes: Uint8Array | undefined;
  const onnxBytes = async (): Promise<Uint8Array> => {
    if (bytes) return bytes;
    if (existsSync(exportPath)) bytes = new Uint8Array(await readFile(exportPath));
    else {
      model ??= await buildModel();
      const { exportLayersModelToOnnx } = await import('../tfjs-to-onnx/layers-model-to-onnx.js');
      bytes = exportLayersModelToOnnx(model, { featureOutputName: FEATURE_OUTPUT });
      await mkdir(dirname(exportPath), { recursive: true });
      await writeFileAtomic(exportPath, bytes);
      await writeFileAtomic(descPath, JSON.stringify(description));
    }
    return bytes;
  };
  return {
    featureDim,
    featureOutput,
    declared: { layout: 'nhwc', ...(inputSize === null ? {} : { inputSize }) },
    onnxFeatureOutput: FEATURE_OUTPUT,
    onnxBytes,
    layersModel: async () => model ?? (await buildModel()),
    ortMessage: 'TF.js model exported to ONNX for speed',
  };
}
