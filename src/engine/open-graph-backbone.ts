import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { GraftError } from '../core/errors.js';
import { FEATURE_OUTPUT } from '../onnx/feature-output.js';
import { attrShape } from '../readers/tfjs-graph/graph-model-json.js';
import { graphFeatureNode } from '../readers/tfjs-graph/graph-features.js';
import { exportGraphModelToOnnx } from '../tfjs-to-onnx/graph-model-to-onnx.js';
import { readGraphModelDir } from '../readers/tfjs-graph/load-graph-model.js';
import type { ResolvedBackbone } from '../hub/resolve-backbone.js';
import { writeFileAtomic } from '../core/atomic-write.js';
import type { BackboneInfo } from './backbone.js';
import type { BackboneHandle, OpenBackboneOptions, PreprocessingOverrides } from './open-backbone.js';
import { OrtBackbone } from './ort-backbone.js';
import { createSession } from '../runtime/ort-session.js';
import { ensureTfjsBackend, warnOnFallback } from '../runtime/tfjs-backend.js';
import type { Preprocessing } from '../core/preprocessing.js';

interface GraphDescription {
  readonly featureDim: number;
  readonly featureNode: string;
  readonly inputSize: number;
}

/**
 * A TF.js graph model (the format of TF Hub's TF.js models) as a backbone: exported once to ONNX (cached by the
 * model's hash and feature node) and run in onnxruntime. Features come from the pooled tensor feeding the final
 * MatMul/1x1 conv, or from --feature-output.
 */
export async function openGraphBackbone(
  resolved: ResolvedBackbone,
  options: OpenBackboneOptions,
  preprocessingFor: (resolved: ResolvedBackbone, overrides: PreprocessingOverrides) => Preprocessing,
): Promise<BackboneHandle> {
  if (resolved.location.kind !== 'tfjs-graph') throw new GraftError('INTERNAL', `graph backbone without a folder: ${resolved.source}`);
  const dir = resolved.location.dir;
  const stem = join(options.cacheDir, 'exports', `${resolved.sha256}-${(options.featureOutput ?? 'auto').replace(/[^\w.-]/g, '_')}`);
  const exportPath = `${stem}.onnx`;
  const descPath = `${stem}.json`;
  let bytes: Uint8Array | undefined;
  let description = existsSync(exportPath) && existsSync(descPath) ? (JSON.parse(await readFile(descPath, 'utf8')) as GraphDescription) : undefined;
  if (!description) {
    // Weight decoding (quantized shards) goes through tfjs, which needs its backend up.
    await ensureTfjsBackend(warnOnFallback(options.onProgress));
    const { modelJson, weightBytes } = await readGraphModelDir(dir);
    const featureNode = graphFeatureNode(modelJson, options.featureOutput);
    const placeholder = modelJson.modelTopology.node.find((n) => n.op === 'Placeholder');
    const declared = placeholder ? attrShape(placeholder, 'shape') : undefined;
    const inputSize = options.overrides?.inputSize ?? (declared?.[1] && declared[1] > 0 ? declared[1] : resolved.entry?.inputSize);
    if (!inputSize) {
      throw new GraftError('UNKNOWN_PREPROCESSING', `${resolved.source} does not declare its input size`, { hint: 'pass --input-size, e.g. 224' });
    }
    bytes = exportGraphModelToOnnx(modelJson, weightBytes, { outputNode: featureNode, inputShape: [inputSize, inputSize, 3], featureOutputName: FEATURE_OUTPUT });
    description = { featureDim: await featureDimOf(bytes, inputSize), featureNode, inputSize };
    await mkdir(dirname(exportPath), { recursive: true });
    await writeFileAtomic(exportPath, bytes);
    await writeFileAtomic(descPath, JSON.stringify(description));
  }
  const preprocessing = preprocessingFor(resolved, { layout: 'nhwc', inputSize: description.inputSize, ...options.overrides });
  const info: BackboneInfo = {
    name: resolved.name,
    source: resolved.source,
    format: resolved.format,
    sha256: resolved.sha256,
    preprocessing,
    featureDim: description.featureDim,
    featureOutput: description.featureNode,
  };
  const onnxBytes = async (): Promise<Uint8Array> => (bytes ??= new Uint8Array(await readFile(exportPath)));
  return {
    info,
    onnxBytes,
    onnxFeatureOutput: FEATURE_OUTPUT,
    load: async () => {
      options.onProgress?.({ type: 'backbone', name: info.name, engine: 'onnxruntime', message: 'TF.js graph model exported to ONNX for speed' });
      return OrtBackbone.create(await onnxBytes(), { ...info, featureOutput: FEATURE_OUTPUT });
    },
  };
}

/** Runs one blank image to read the feature size (graph models rarely declare static output shapes). */
async function featureDimOf(bytes: Uint8Array, inputSize: number): Promise<number> {
  const session = await createSession(bytes, { source: 'the exported graph model' });
  try {
    const x = new ort.Tensor('float32', new Float32Array(inputSize * inputSize * 3), [1, inputSize, inputSize, 3]);
    const out = await session.run({ [session.inputNames[0]!]: x }, [FEATURE_OUTPUT]);
    return out[FEATURE_OUTPUT]!.data.length;
  } finally {
    await session.release();
  }
}
