import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTfjsBackend } from '../../src/runtime/tfjs-backend.js';
import { GraftError } from '../../src/core/errors.js';
import { exportGraphModelToOnnx } from '../../src/tfjs-to-onnx/graph-model-to-onnx.js';
import { graphFeatureNode, loadNsfwjsMobileNetV2Mid, type GraphModelJson } from '../../src/readers/tfjs-graph/index.js';
import { loadImageBatch } from '../support.js';
import { graphExportVsTfjs } from './graph-export-vs-tfjs.js';

// nsfwjs's MobileNetV2 at width 1.4, whole (about 4 s); the fast suite exports MobileNet v1 0.25 and every supported
// op on a synthetic graph (tfjs-graph.test.ts).
const TOLERANCE = 1e-4;

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

beforeAll(async () => {
  await ensureTfjsBackend();
});

describe('TF.js graph model: nsfwjs MobileNetV2 (mid)', () => {
  let loaded: Awaited<ReturnType<typeof loadNsfwjsMobileNetV2Mid>>;
  afterAll(() => loaded?.model.dispose());

  it('finds the pooled feature node and matches ORT on the export within 1e-4', async () => {
    loaded = await loadNsfwjsMobileNetV2Mid();
    const node = graphFeatureNode(loaded.modelJson);
    expect(node).toMatch(/feature_vector\/SpatialSqueeze$/);
    expect(graphFeatureNode(loaded.model)).toBe(node);
    const { maxAbsDiff, maxAbs, dim } = await graphExportVsTfjs(loaded.model, loaded.modelJson, loaded.weightBytes, node, await loadImageBatch('0..1', { fit: 'fill' }), 4);
    console.log(`nsfwjs mobilenet_v2_mid ${node}: dim ${dim}, max abs diff ${maxAbsDiff.toExponential(2)} (max |feature| ${maxAbs.toFixed(2)})`);
    expect(dim).toBe(1792); // MobileNetV2 at width 1.4: 1280 x 1.4
    expect(maxAbs).toBeGreaterThan(0.1);
    expect(maxAbsDiff).toBeLessThanOrEqual(TOLERANCE);
  });

  it('exports the whole classifier (MatMul + Softmax) too', async () => {
    const { maxAbsDiff, dim } = await graphExportVsTfjs(loaded.model, loaded.modelJson, loaded.weightBytes, 'Identity', await loadImageBatch('0..1', { count: 2, fit: 'fill' }), 2);
    expect(dim).toBe(5);
    expect(maxAbsDiff).toBeLessThanOrEqual(1e-5);
  });

  it('names the op and node of an unsupported op, and rejects an unknown output node', () => {
    const nodes = loaded.modelJson.modelTopology.node.map((n) => (n.op === 'AvgPool' ? { ...n, op: 'FancyPool' } : n));
    const edited: GraphModelJson = { ...loaded.modelJson, modelTopology: { ...loaded.modelJson.modelTopology, node: nodes } };
    const error = caught(() => exportGraphModelToOnnx(edited, loaded.weightBytes, { outputNode: 'Identity', inputShape: [224, 224, 3] }));
    expect(error).toBeInstanceOf(GraftError);
    expect((error as GraftError).code).toBe('UNSUPPORTED_MODEL');
    expect((error as GraftError).message).toMatch(/FancyPool node ".*Logits\/AvgPool"/);
    const missing = caught(() => exportGraphModelToOnnx(loaded.modelJson, loaded.weightBytes, { outputNode: 'nope', inputShape: [224, 224, 3] }));
    expect((missing as GraftError).code).toBe('INVALID_CONFIG');
    const shape = caught(() => exportGraphModelToOnnx(loaded.modelJson, loaded.weightBytes, { outputNode: 'Identity', inputShape: [160, 160, 3] }));
    expect((shape as GraftError).code).toBe('INVALID_CONFIG');
  });
});
