import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanCsv } from '../../src/data/scan-csv.js';
import { GraftError } from '../../src/core/errors.js';
import { appendDenseHead } from '../../src/onnx/append-head.js';
import { findCutPoints } from '../../src/onnx/cut-points.js';
import { exposeFeatures } from '../../src/onnx/feature-output.js';
import { decodeOnnxModel, encodeOnnxModel, makeFloatInitializer, makeFloatValueInfo, makeNode, type ModelProto } from '../../src/onnx/onnx-model.js';
import { readLayersModelDir } from '../../src/readers/tfjs-layers.js';
import { validateGraphModelJson } from '../../src/readers/tfjs-graph/graph-model-json.js';
import { detectFormat } from '../../src/formats/detect-format.js';
import { weightPaths } from '../../src/readers/tfjs-model-dir.js';
import { parseManifest } from '../../src/model/manifest.js';
import { GraftModel } from '../../src/model/graft-model.js';
import { startDashboardServer } from '../../src/serve/dashboard/start-dashboard-server.js';
import { startServer, type GraftServer } from '../../src/serve/start-server.js';
import { multipartBody } from '../http-support.js';
import { seeded } from '../onnx/onnx-fixtures.js';
import { hasShared, sharedDir, tempDir } from '../support.js';
import { removeTinyModel, trainTinyModel, type TinyModel } from '../web/web-support.js';

/**
 * Property-based fuzzing of the parsers Graft owns (issue 9): whatever the input, the answer is a result, a
 * GraftError or a 4xx, never another exception, a 5xx, a dropped connection or a hang. Seeded and bounded so the
 * suite stays fast and a failure replays (fast-check prints the seed and the shrunk counterexample).
 */
const SEED = 20_240_909;
const settings = (numRuns: number) => ({ seed: SEED, numRuns, endOnFailure: true });

/** Runs `work` and says how it ended: 'ok', or the GraftError code; anything else (or over `ms`) fails the test. */
async function graftOutcome(work: () => Promise<unknown> | unknown, ms = 15_000): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`hung for ${ms} ms`)), ms)));
  try {
    await Promise.race([Promise.resolve().then(work), hang]);
    return 'ok';
  } catch (error) {
    if (error instanceof GraftError) return error.code;
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** Replaces the value at a random path of a JSON value (a small structural mutation). */
function mutateJson(value: unknown, path: readonly number[], replacement: unknown): unknown {
  if (path.length === 0 || value === null || typeof value !== 'object') return replacement;
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value as Record<string, unknown>);
  if (!entries.length) return replacement;
  const index = path[0]! % entries.length;
  const copy: Record<string, unknown> | unknown[] = Array.isArray(value) ? [...value] : { ...(value as Record<string, unknown>) };
  const key = entries[index]![0];
  const child = mutateJson(entries[index]![1], path.slice(1), replacement);
  if (Array.isArray(copy)) copy[Number(key)] = child;
  else copy[key] = child;
  return copy;
}
const jsonMutation = fc.record({ path: fc.array(fc.nat(), { maxLength: 6 }), replacement: fc.jsonValue({ maxDepth: 2 }) });

/** A tiny ImageNet-style classifier: Conv -> Relu -> GlobalAveragePool -> Flatten -> Gemm -> Softmax. */
function tinyClassifier(): ModelProto {
  const nodes = [
    makeNode('Conv', ['input', 'conv_w', 'conv_b'], ['conv'], { name: 'conv', attributes: { pads: { ints: [1, 1, 1, 1] } } }),
    makeNode('Relu', ['conv'], ['relu']),
    makeNode('GlobalAveragePool', ['relu'], ['pool']),
    makeNode('Flatten', ['pool'], ['flat']),
    makeNode('Gemm', ['flat', 'fc_w', 'fc_b'], ['logits'], { attributes: { transB: { int: 1 } } }),
    makeNode('Softmax', ['logits'], ['output']),
  ];
  return {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'tiny',
      node: nodes,
      input: [makeFloatValueInfo('input', [null, 3, 16, 16])],
      output: [makeFloatValueInfo('output', [null, 5])],
      initializer: [
        makeFloatInitializer('conv_w', [8, 3, 3, 3], seeded(8 * 27, 1)),
        makeFloatInitializer('conv_b', [8], seeded(8, 2)),
        makeFloatInitializer('fc_w', [5, 8], seeded(40, 3)),
        makeFloatInitializer('fc_b', [5], seeded(5, 4)),
      ],
    },
  };
}

describe('fuzzing: ONNX graph surgery on mutated models', () => {
  const head = [{ inputDim: 8, outputDim: 3, weight: seeded(24, 5), bias: seeded(3, 6), activation: 'softmax' as const }];
  const surgery = async (bytes: Uint8Array): Promise<void> => {
    const model = decodeOnnxModel(bytes, 'fuzzed.onnx');
    const exposed = await exposeFeatures(model, { source: 'fuzzed.onnx' });
    findCutPoints(exposed.model, exposed.featureOutput);
    appendDenseHead(exposed.model, exposed.featureOutput, [{ ...head[0]!, inputDim: exposed.featureDim, weight: seeded(exposed.featureDim * 3, 5) }]);
  };

  it('the unmutated tiny classifier goes through (the property below is not vacuous)', async () => {
    expect(await graftOutcome(() => surgery(encodeOnnxModel(tinyClassifier())))).toBe('ok');
  });

  it('random byte edits, truncations and insertions: a GraftError or a result', async () => {
    const bytes = encodeOnnxModel(tinyClassifier());
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ at: fc.nat({ max: bytes.length - 1 }), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 8 }), fc.nat({ max: bytes.length }), async (edits, cut) => {
        const mutated = Uint8Array.from(bytes.subarray(0, Math.max(cut, 1)));
        for (const { at, value } of edits) if (at < mutated.length) mutated[at] = value;
        await graftOutcome(() => surgery(mutated));
      }),
      settings(120),
    );
  });

  it('structural edits (ops, wiring, shapes, initializers): a GraftError or a result', async () => {
    const edit = fc.oneof(
      fc.record({ kind: fc.constant('op' as const), node: fc.nat(), op: fc.constantFrom('Relu', 'Conv', 'Gemm', 'Nope', '', 'Flatten', 'Reshape') }),
      fc.record({ kind: fc.constant('input' as const), node: fc.nat(), slot: fc.nat({ max: 3 }), name: fc.constantFrom('input', 'conv', 'relu', 'pool', 'missing', '', 'fc_w', 'output') }),
      fc.record({ kind: fc.constant('drop-node' as const), node: fc.nat() }),
      fc.record({ kind: fc.constant('drop-init' as const), index: fc.nat() }),
      fc.record({ kind: fc.constant('dim' as const), index: fc.nat({ max: 3 }), value: fc.integer({ min: -3, max: 40 }) }),
      fc.record({ kind: fc.constant('output' as const), name: fc.constantFrom('conv', 'missing', 'input', '') }),
      fc.record({ kind: fc.constant('elem' as const), type: fc.integer({ min: 0, max: 20 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(edit, { minLength: 1, maxLength: 4 }), async (edits) => {
        const model = tinyClassifier();
        const graph = model.graph!;
        for (const e of edits) {
          const nodes = graph.node!;
          if (e.kind === 'op' && nodes.length) nodes[e.node % nodes.length]!.opType = e.op;
          if (e.kind === 'input' && nodes.length) {
            const inputs = nodes[e.node % nodes.length]!.input!;
            inputs[Math.min(e.slot, inputs.length)] = e.name; // no holes: a repeated field has none
          }
          if (e.kind === 'drop-node' && nodes.length) nodes.splice(e.node % nodes.length, 1);
          if (e.kind === 'drop-init' && graph.initializer!.length) graph.initializer!.splice(e.index % graph.initializer!.length, 1);
          if (e.kind === 'dim') graph.input![0]!.type!.tensorType!.shape!.dim![e.index] = { dimValue: e.value };
          if (e.kind === 'output') graph.output = [makeFloatValueInfo(e.name, [null, 5])];
          if (e.kind === 'elem') graph.input![0]!.type!.tensorType!.elemType = e.type;
        }
        await graftOutcome(() => surgery(encodeOnnxModel(model)));
      }),
      settings(150),
    );
  });
});

describe('fuzzing: CSV datasets', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir('graft-fuzz-csv-');
    for (const name of ['a.jpg', 'b c.jpg', 'd,e.jpg']) await writeFile(join(dir, name), 'x');
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('any text as a path,label CSV: a dataset of files that exist, or INVALID_DATASET', async () => {
    const token = fc.constantFrom('a.jpg', '"b c.jpg"', '"d,e.jpg"', 'missing.jpg', 'cat', 'dog', ',', '"', '""', '\n', '\r\n', '\r', ' ', 'path,label\n', '\uFEFF', '../a.jpg', '/etc/passwd');
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.array(token, { maxLength: 40 }).map((t) => t.join('')), fc.string({ maxLength: 200 })), async (text) => {
        const file = join(dir, `fuzz-${run++}.csv`);
        await writeFile(file, text);
        const outcome = await graftOutcome(async () => {
          const ds = await scanCsv(file);
          expect(ds.labels.length).toBeGreaterThanOrEqual(2);
          for (const item of ds.items) expect((await readFile(item.file)).length).toBeGreaterThan(0);
        });
        expect(['ok', 'INVALID_DATASET']).toContain(outcome);
      }),
      settings(300),
    );
  });
});

describe.skipIf(!hasShared)('fuzzing: TF.js model.json manifests', () => {
  let dir: string;
  let layersJson: unknown;
  let graphJson: unknown;
  const layersDir = join(sharedDir, 'models/mobilenet-v1-025-tfjs/layers');
  const graphDir = join(sharedDir, 'models/mobilenet-v1-025-tfjs/graph');
  beforeAll(async () => {
    dir = await tempDir('graft-fuzz-modeljson-');
    await cp(layersDir, join(dir, 'layers'), { recursive: true });
    layersJson = JSON.parse(await readFile(join(layersDir, 'model.json'), 'utf8'));
    graphJson = JSON.parse(await readFile(join(graphDir, 'model.json'), 'utf8'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('mutated layers model.json (values, truncation): read as a model, or a GraftError', async () => {
    const text = JSON.stringify(layersJson);
    await fc.assert(
      fc.asyncProperty(jsonMutation, fc.option(fc.nat({ max: text.length }), { nil: undefined }), async ({ path, replacement }, cut) => {
        const mutated = JSON.stringify(mutateJson(layersJson, path, replacement));
        await writeFile(join(dir, 'layers', 'model.json'), cut === undefined ? mutated : mutated.slice(0, cut));
        await graftOutcome(async () => {
          const bytes = await readFile(join(dir, 'layers', 'model.json'));
          weightPaths(bytes, 'model.json');
          await detectFormat(join(dir, 'layers'));
          await readLayersModelDir(join(dir, 'layers'));
        });
      }),
      settings(120),
    );
  });

  it('mutated graph model.json: validated, or a GraftError', async () => {
    await fc.assert(
      fc.asyncProperty(jsonMutation, async ({ path, replacement }) => {
        await graftOutcome(() => validateGraphModelJson(mutateJson(graphJson, path, replacement), 'model.json'));
      }),
      settings(300),
    );
  });
});

describe('fuzzing: graft.json manifests and what loads them', () => {
  let model: TinyModel;
  let manifest: unknown;
  let image: string;
  beforeAll(async () => {
    model = await trainTinyModel();
    manifest = JSON.parse(await readFile(join(model.dir, 'graft.json'), 'utf8'));
    image = model.data.files.find((f) => f.endsWith('.jpg'))!;
  });
  afterAll(async () => removeTinyModel(model));

  it('mutated manifests: parsed and checked, or INVALID_MODEL_DIR', async () => {
    await fc.assert(
      fc.property(jsonMutation, ({ path, replacement }) => {
        const text = JSON.stringify(mutateJson(manifest, path, replacement));
        try {
          parseManifest(text, 'graft.json');
        } catch (error) {
          expect(error).toBeInstanceOf(GraftError);
          expect((error as GraftError).code).toBe('INVALID_MODEL_DIR');
        }
      }),
      settings(500),
    );
  });

  it('a model directory with a mutated manifest loads and predicts, or fails with a GraftError', async () => {
    const copy = join(model.root, 'fuzzed-model');
    await cp(model.dir, copy, { recursive: true });
    // Mutations near what loaders read (labels, preprocessing, files, onnx) are the interesting ones.
    const near = fc.record({ path: fc.tuple(fc.constantFrom(2, 3, 4, 5, 11, 12), fc.array(fc.nat(), { maxLength: 2 })).map(([a, rest]) => [a, ...rest]), replacement: fc.jsonValue({ maxDepth: 1 }) });
    await fc.assert(
      fc.asyncProperty(near, async ({ path, replacement }) => {
        await writeFile(join(copy, 'graft.json'), JSON.stringify(mutateJson(manifest, path, replacement)));
        await graftOutcome(async () => {
          const loaded = await GraftModel.load(copy);
          try {
            await loaded.predict([image]);
          } finally {
            await loaded.dispose();
          }
        });
      }),
      settings(25),
    );
  });
});

describe('fuzzing: multipart and base64 bodies on the servers', () => {
  let model: TinyModel;
  let server: GraftServer;
  let dashboard: Awaited<ReturnType<typeof startDashboardServer>>;
  let jpeg: Buffer;
  let uploadUrl: string;
  beforeAll(async () => {
    model = await trainTinyModel();
    jpeg = await readFile(model.data.files.find((f) => f.endsWith('.jpg'))!);
    server = await startServer({ models: [model.dir], port: 0, watch: false, maxUploadBytes: 100_000, maxImagesPerRequest: 4 });
    dashboard = await startDashboardServer({ dataDir: join(model.root, 'ui'), port: 0, maxUploadBytes: 100_000 });
    const project = (await (await fetch(`${dashboard.url}/v1/projects`, { method: 'POST', headers: { authorization: `Bearer ${dashboard.token}`, 'content-type': 'application/json' }, body: '{"name":"fuzz"}' })).json()) as { id: number };
    uploadUrl = `${dashboard.url}/v1/projects/${project.id}/images`;
    await mkdir(join(model.root, 'ui'), { recursive: true });
  });
  afterAll(async () => {
    await server?.close();
    await dashboard?.close();
    await removeTinyModel(model);
  });

  /** Sends and checks the reply: a 2xx, or a 4xx with Graft's error JSON. */
  async function expectNo5xx(url: string, contentType: string, body: Buffer | string, headers: Record<string, string> = {}): Promise<number> {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': contentType, ...headers }, body, signal: AbortSignal.timeout(15_000) });
    const text = await response.text();
    expect(response.status, `${response.status} ${text.slice(0, 300)}`).toBeLessThan(500);
    if (response.status >= 400) expect((JSON.parse(text) as { error: { code: string } }).error.code).toMatch(/^[A-Z_]+$/);
    return response.status;
  }

  const bytes = fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.nat({ max: 4000 }).map((n) => Buffer.from(jpeg.subarray(0, n))), fc.constant(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>')));
  const part = fc.record({
    name: fc.constantFrom('image', 'files', 'label', 'top_k', 'x', ''),
    filename: fc.option(fc.constantFrom('a.jpg', 'b.png', '', '../../etc/passwd', 'x'.repeat(300), 'c"d.jpg'), { nil: undefined }),
    type: fc.option(fc.constantFrom('image/jpeg', 'text/plain', 'application/octet-stream'), { nil: undefined }),
    data: fc.oneof(bytes, fc.constantFrom('circles', 'train', '5', '-1', '', 'a/b')),
  });
  const multipart = fc.record({
    boundary: fc.constantFrom('b0undary', 'x', '----WebKitFormBoundary7MA4YWxkTrZu0gW'),
    parts: fc.array(part, { maxLength: 5 }),
    cut: fc.option(fc.nat({ max: 5000 }), { nil: undefined }),
    header: fc.constantFrom('multipart/form-data; boundary=%b', 'multipart/form-data', 'multipart/form-data; boundary=', 'multipart/form-data; boundary="%b"', 'multipart/mixed; boundary=%b'),
  });

  it('predict: random multipart bodies answer 2xx or 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(multipart, async ({ boundary, parts, cut, header }) => {
        const body = multipartBody(boundary, parts.map((p) => ({ ...p, data: typeof p.data === 'string' ? p.data : Buffer.from(p.data) })));
        await expectNo5xx(`${server.url}/v1/models/${server.models[0]}/predict`, header.replace('%b', boundary), cut === undefined ? body : body.subarray(0, cut));
      }),
      settings(120),
    );
  });

  it('dashboard upload: random multipart bodies answer 2xx or 4xx, and leave no staged file', async () => {
    await fc.assert(
      fc.asyncProperty(multipart, async ({ boundary, parts, cut, header }) => {
        const body = multipartBody(boundary, parts.map((p) => ({ ...p, data: typeof p.data === 'string' ? p.data : Buffer.from(p.data) })));
        await expectNo5xx(uploadUrl, header.replace('%b', boundary), cut === undefined ? body : body.subarray(0, cut), { authorization: `Bearer ${dashboard.token}` });
      }),
      settings(120),
    );
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(join(model.root, 'ui', 'staging')).catch(() => [])).toEqual([]);
  });

  it('predict: random JSON (base64 images, nulls, numbers, nesting) answers 2xx or 4xx', async () => {
    const base64 = fc.oneof(fc.constant(jpeg.toString('base64')), fc.base64String({ maxLength: 200 }), fc.string({ maxLength: 50 }), fc.constant(`data:image/jpeg;base64,${jpeg.toString('base64')}`), fc.constant(jpeg.subarray(0, 500).toString('base64')));
    const body = fc.oneof(
      fc.record({ image: fc.oneof(base64, fc.jsonValue({ maxDepth: 1 })) }, { requiredKeys: [] }),
      fc.record({ images: fc.array(fc.oneof(base64, fc.jsonValue({ maxDepth: 1 })), { maxLength: 6 }), top_k: fc.jsonValue({ maxDepth: 0 }) }, { requiredKeys: [] }),
      fc.jsonValue({ maxDepth: 3 }),
    );
    await fc.assert(
      fc.asyncProperty(body, async (value) => {
        await expectNo5xx(`${server.url}/v1/models/${server.models[0]}/predict`, 'application/json', JSON.stringify(value));
      }),
      settings(200),
    );
  });
});
