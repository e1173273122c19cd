import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { graphSizes } from '../readers/tfjs-graph/graph-feature-node.js';
import { validateGraphModelJson } from '../readers/tfjs-graph/graph-model-json.js';
import { tfjsModelDirSha256 } from '../readers/tfjs-model-dir.js';
import type { ModelFormatEntry } from './format-entry.js';
import { lazyConverter } from './lazy-converters.js';
import { modelTopology } from './model-json.js';
import { graphDir } from './model-location.js';

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
  // From model.json alone: the Placeholder's shape and the classifier's weight shapes (no tfjs, no weights read).
  declaredSizes: async (location, source) => {
    const path = join(graphDir(location, source), 'model.json');
    return graphSizes(validateGraphModelJson(JSON.parse(await readFile(path, 'utf8')), path));
  },
  // tfjs loads only when a graph model is actually read (see lazy-converters.ts).
  openFeatures: async (request) => (await import('./tfjs-graph-features.js')).openGraphFeatures(request),
  convertTo: { onnx: lazyConverter(async () => (await import('./graph-conversion.js')).convertGraphToOnnx) },
};
