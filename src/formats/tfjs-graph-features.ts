import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { GraftError } from '../core/errors.js';
import { FEATURE_OUTPUT } from '../onnx/feature-output.js';
import { attrShape } from '../readers/tfjs-graph/graph-model-json.js';
import { createSession } from '../runtime/ort-session.js';
import type { FeatureRequest, FeatureSource } from './format-entry.js';
import { graphDir } from './model-location.js';
import { readCachedExport, writeCachedExport } from './cached-export.js';

/* A TF.js graph model's features: its ONNX export (cached by model hash and feature node) and their size. */

interface GraphDescription {
  readonly featureDim: number;
  readonly featureNode: string;
  readonly inputSize: number;
}

/** The backbone's features: described once, its ONNX export built and cached on first use. */
export async function openGraphFeatures(request: FeatureRequest): Promise<FeatureSource> {
  const dir = graphDir(request.location, request.source);
  const stem = join(request.cacheDir, 'exports', `${request.sha256}-${(request.featureOutput ?? 'auto').replace(/[^\w.-]/g, '_')}`);
  const exportPath = `${stem}.onnx`;
  const descPath = `${stem}.json`;
  const cached = await readCachedExport<GraphDescription>(exportPath, descPath, request.source, request.onProgress);
  let bytes = cached?.bytes;
  let description = cached?.description;
  if (!description) {
    // tfjs (which the readers and the exporter import) loads only here, to build the export: not on a warm run.
    const [{ graphFeatureNode }, { readGraphModelDir }, { ensureTfjsBackend, warnOnFallback }, { exportGraphModelToOnnx }] = await Promise.all([
      import('../readers/tfjs-graph/graph-features.js'),
      import('../readers/tfjs-graph/load-graph-model.js'),
      import('../runtime/tfjs-backend.js'),
      import('../tfjs-to-onnx/graph-model-to-onnx.js'),
    ]);
    // Weight decoding (quantized shards) goes through tfjs, which needs its backend up.
    await ensureTfjsBackend(warnOnFallback(request.onProgress));
    const { modelJson, weightBytes } = await readGraphModelDir(dir);
    const featureNode = graphFeatureNode(modelJson, request.featureOutput);
    const placeholder = modelJson.modelTopology.node.find((n) => n.op === 'Placeholder');
    const declared = placeholder ? attrShape(placeholder, 'shape') : undefined;
    const inputSize = request.inputSize ?? (declared?.[1] && declared[1] > 0 ? declared[1] : request.catalogue?.inputSize);
    if (!inputSize) {
      throw new GraftError('UNKNOWN_PREPROCESSING', `${request.source} does not declare its input size`, { hint: 'pass --input-size, e.g. 224' });
    }
    bytes = exportGraphModelToOnnx(modelJson, weightBytes, { outputNode: featureNode, inputShape: [inputSize, inputSize, 3], featureOutputName: FEATURE_OUTPUT });
    description = { featureDim: await featureDimOf(bytes, inputSize), featureNode, inputSize };
    await writeCachedExport(exportPath, descPath, bytes, description);
  }
  return {
    featureDim: description.featureDim,
    featureOutput: description.featureNode,
    declared: { layout: 'nhwc', inputSize: description.inputSize },
    onnxFeatureOutput: FEATURE_OUTPUT,
    onnxBytes: async () => (bytes ??= new Uint8Array(await readFile(exportPath))),
    ortMessage: 'TF.js graph model exported to ONNX for speed',
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
