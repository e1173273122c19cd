import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { writeFileAtomic } from '../core/atomic-write.js';
import { GraftError } from '../core/errors.js';
import { FEATURE_OUTPUT } from '../onnx/feature-output.js';
import { graphFeatureNode } from '../readers/tfjs-graph/graph-features.js';
import { attrShape } from '../readers/tfjs-graph/graph-model-json.js';
import { readGraphModelDir } from '../readers/tfjs-graph/load-graph-model.js';
import { tfjsModelDirSha256 } from '../readers/tfjs-model-dir.js';
import { createSession } from '../runtime/ort-session.js';
import { ensureTfjsBackend, warnOnFallback } from '../runtime/tfjs-backend.js';
import { exportGraphModelToOnnx } from '../tfjs-to-onnx/graph-model-to-onnx.js';
import type { FeatureRequest, FeatureSource, ModelFormatEntry } from './format-entry.js';
import { convertGraphToOnnx } from './graph-conversion.js';
import { modelTopology } from './model-json.js';
import type { BackboneLocation } from './model-location.js';

interface GraphDescription {
  readonly featureDim: number;
  readonly featureNode: string;
  readonly inputSize: number;
}

/**
 * TF.js graph models (the format of TF Hub's TF.js models): exported once to ONNX (cached by the model's hash and
 * feature node) and run in onnxruntime. Features come from the pooled tensor feeding the final MatMul/1x1 conv,
 * or from --feature-output.
 */
export const TFJS_GRAPH_FORMAT: ModelFormatEntry = {
  name: 'tfjs-graph',
  label: 'TF.js graph model (folder with model.json)',
  storage: 'folder',
  extensions: [],
  // Converters since 2020 write "format": "graph-model"; TF Hub's 2019 exports wrote no format, but their topology
  // is a GraphDef with a `node` list, where a layers model has `model_config`.
  detect: ({ json }) => (!json ? 'not a model.json' : json['format'] === 'graph-model' || 'node' in modelTopology(json) || 'model.json has no GraphDef (node list)'),
  locate: (path) => ({ kind: 'tfjs-graph', dir: dirname(path) }),
  modelId: (location) => tfjsModelDirSha256(graphDir(location)),
  openFeatures: openGraphFeatures,
  convertTo: { onnx: convertGraphToOnnx },
};

async function openGraphFeatures(request: FeatureRequest): Promise<FeatureSource> {
  const dir = graphDir(request.location, request.source);
  const stem = join(request.cacheDir, 'exports', `${request.sha256}-${(request.featureOutput ?? 'auto').replace(/[^\w.-]/g, '_')}`);
  const exportPath = `${stem}.onnx`;
  const descPath = `${stem}.json`;
  let bytes: Uint8Array | undefined;
  let description = existsSync(exportPath) && existsSync(descPath) ? (JSON.parse(await readFile(descPath, 'utf8')) as GraphDescription) : undefined;
  if (!description) {
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
    await mkdir(dirname(exportPath), { recursive: true });
    await writeFileAtomic(exportPath, bytes);
    await writeFileAtomic(descPath, JSON.stringify(description));
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

function graphDir(location: BackboneLocation, source = 'the model'): string {
  if (location.kind !== 'tfjs-graph') throw new GraftError('INTERNAL', `graph backbone without a folder: ${source}`);
  return location.dir;
}
