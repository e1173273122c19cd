import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recipes, type learn } from '../../src/index.js';
import type { JsonSchema, OpenApiDocument, OperationObject, Reference, ResponseObject } from '../../src/serve/openapi-document.js';
import { startServer, type GraftServer } from '../../src/serve/start-server.js';
import { hasShared, hymenoptera, int8Model, skipReason, tempDir } from '../support.js';

// The OpenAPI document against the server it describes: one real server on loopback serving a real model (the int8
// MobileNetV2 with a fixed two-class head: real forward passes, no training), and a second one with a token.
const TOKEN = 'openapi-test-token-0123456789abcdef';

/** A softmax head [2560 (the int8 MobileNetV2 at its two default scales) -> 2] with fixed, varied weights. */
function head(): learn.DenseLayerWeights {
  const weight = Float32Array.from({ length: 2560 * 2 }, (_, i) => ((i % 7) - 3) * 0.002);
  return { inputDim: 2560, outputDim: 2, weight, bias: new Float32Array(2), activation: 'softmax' };
}

/** `METHOD /path/{param}` for every route fastify registered, from its route tree (HEAD: fastify's own copy of GET). */
function registeredRoutes(tree: string): string[] {
  const stack: string[] = [];
  const routes: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^([│ ]*)[├└]── (\S+) \(([A-Z, ]+)\)$/.exec(line.replace(/\u00a0/g, ' '));
    if (!match) continue;
    const depth = match[1]!.length / 4;
    stack.length = depth;
    stack.push(match[2]!.startsWith('/') ? match[2]! : `/${match[2]!}`);
    const path = stack.join('').replace(/:(\w+)/g, '{$1}');
    for (const method of match[3]!.split(', ')) if (method !== 'HEAD') routes.push(`${method} ${path}`);
  }
  return routes.sort();
}

/** The object a local `#/a/b` reference points at in the document. */
function resolvePointer(document: unknown, ref: string): unknown {
  return ref
    .slice(2)
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<unknown>((node, key) => (node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined), document);
}

function refsIn(node: unknown, found: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((item) => refsIn(item, found));
  else if (node !== null && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') found.push(value);
      else refsIn(value, found);
    }
  }
  return found;
}

describe.skipIf(!hasShared)('GET /openapi.json describes the API the server serves', () => {
  let root: string;
  let server: GraftServer;
  let guarded: GraftServer;
  let document: OpenApiDocument;
  let ajv: Ajv2020;
  let jpeg: Buffer;
  let png: Buffer;

  beforeAll(async () => {
    root = await tempDir('graft-openapi-');
    const dir = join(root, 'bees');
    await recipes.saveHeadModel({ backbone: int8Model, cacheDir: join(root, 'cache'), labels: ['ants', 'bees'], head: [head()], out: dir });
    const bees = join(hymenoptera, 'val/bees');
    jpeg = await readFile(join(bees, (await readdir(bees)).sort()[0]!));
    png = await sharp(jpeg).resize(96).png().toBuffer();
    server = await startServer({ models: [dir], port: 0, watch: false });
    guarded = await startServer({ models: [dir], names: { [dir]: 'guarded-bees' }, port: 0, watch: false, token: TOKEN });
    const response = await fetch(`${server.url}/openapi.json`);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    document = (await response.json()) as OpenApiDocument;
    ajv = new Ajv2020({ strict: false, allErrors: true });
    ajv.addSchema({ ...document, $id: 'openapi.json' });
  });
  afterAll(async () => {
    await server?.close();
    await guarded?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  /** The schema the document gives for this answer (path as in the document, status, media type). */
  function schemaFor(doc: OpenApiDocument, path: string, method: 'get' | 'post', status: number, mediaType: string): JsonSchema {
    const operation = doc.paths[path]?.[method] as OperationObject | undefined;
    expect(operation, `${method} ${path} in the document`).toBeDefined();
    const entry = operation!.responses[String(status)];
    expect(entry, `${method} ${path}: status ${status} in the document`).toBeDefined();
    const response = ('$ref' in entry! ? resolvePointer(doc, (entry as Reference).$ref) : entry) as ResponseObject;
    const schema = response.content?.[mediaType]?.schema;
    expect(schema, `${method} ${path} ${status}: a schema for ${mediaType}`).toBeDefined();
    return schema!;
  }

  /** Checks a real answer against the document: its status is listed, and its body fits that status's schema. */
  async function expectDescribed(doc: OpenApiDocument, path: string, method: 'get' | 'post', response: Response, status: number): Promise<unknown> {
    expect(response.status, `${method} ${path}`).toBe(status);
    const mediaType = (response.headers.get('content-type') ?? '').split(';')[0]!.trim();
    const schema = schemaFor(doc, path, method, status, mediaType);
    const body: unknown = mediaType === 'application/json' ? await response.json() : await response.text();
    const id = doc === document ? 'openapi.json' : 'guarded.json';
    const validate = ajv.compile({ $ref: `${id}#${pointerTo(doc, schema)}` });
    expect(validate(body) ? 'valid' : ajv.errorsText(validate.errors), `${method} ${path} ${status}: ${JSON.stringify(body).slice(0, 300)}`).toBe('valid');
    return body;
  }

  it('is OpenAPI 3.1 in shape: versions, operations, path parameters, every $ref resolves, every schema compiles', () => {
    expect(document.openapi).toBe('3.1.0');
    expect(document.info.title.length).toBeGreaterThan(0);
    expect(document.info.version).toMatch(/^\d+\.\d+\.\d+/);
    const operationIds = new Set<string>();
    for (const [path, item] of Object.entries(document.paths)) {
      expect(path).toMatch(/^\//);
      for (const [method, operation] of Object.entries(item) as [string, OperationObject][]) {
        expect(['get', 'post']).toContain(method);
        expect(operationIds.has(operation.operationId), operation.operationId).toBe(false);
        operationIds.add(operation.operationId);
        expect(Object.keys(operation.responses).length).toBeGreaterThan(0);
        for (const status of Object.keys(operation.responses)) expect(status).toMatch(/^[1-5]\d\d$/);
        const templated = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
        const declared = (operation.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name).sort();
        expect(declared, `${method} ${path}: its path parameters`).toEqual(templated);
        for (const parameter of operation.parameters ?? []) if (parameter.in === 'path') expect(parameter.required).toBe(true);
      }
    }
    const refs = refsIn(document);
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of refs) expect(resolvePointer(document, ref), ref).toBeDefined();
    for (const name of Object.keys(document.components.schemas)) expect(() => ajv.compile({ $ref: `openapi.json#/components/schemas/${name}` }), name).not.toThrow();
    // The served names, as of this request; no token here, so no security scheme.
    expect(document.paths['/v1/models/{name}']!.get!.parameters![0]!.schema['enum']).toEqual(server.models);
    expect(document.components.securitySchemes).toBeUndefined();
    expect(document.security).toBeUndefined();
  });

  it('lists every route the server registers, and nothing else', () => {
    const described = Object.entries(document.paths)
      .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`))
      .sort();
    expect(registeredRoutes(server.app.printRoutes({ commonPrefix: false }))).toEqual(described);
  });

  it("real answers fit the document's schemas: predict in three forms and as a batch, the models, 404, 415, 405", async () => {
    const predictPath = '/v1/models/{name}/predict';
    const predict = `${server.url}/v1/models/bees/predict`;
    const one = new FormData();
    one.append('image', new Blob([jpeg], { type: 'image/jpeg' }), 'bee.jpg');
    const single = (await expectDescribed(document, predictPath, 'post', await fetch(predict, { method: 'POST', body: one }), 200)) as { predictions: { label: string }[] };
    expect(single.predictions.map((p) => p.label).sort()).toEqual(['ants', 'bees']);
    await expectDescribed(document, predictPath, 'post', await fetch(`${predict}?top_k=1`, { method: 'POST', body: jpeg, headers: { 'content-type': 'image/jpeg' } }), 200);
    await expectDescribed(document, predictPath, 'post', await fetch(predict, { method: 'POST', body: JSON.stringify({ image: png.toString('base64') }), headers: { 'content-type': 'application/json' } }), 200);
    const batch = (await expectDescribed(document, predictPath, 'post', await fetch(predict, { method: 'POST', body: JSON.stringify({ images: [jpeg.toString('base64'), png.toString('base64')], top_k: 1 }), headers: { 'content-type': 'application/json' } }), 200)) as { results: unknown[] };
    expect(batch.results).toHaveLength(2);
    const two = new FormData();
    for (const bytes of [jpeg, png]) two.append('image', new Blob([bytes]), 'image');
    await expectDescribed(document, predictPath, 'post', await fetch(predict, { method: 'POST', body: two }), 200);

    await expectDescribed(document, '/v1/models', 'get', await fetch(`${server.url}/v1/models`), 200);
    await expectDescribed(document, '/v1/models/{name}', 'get', await fetch(`${server.url}/v1/models/bees`), 200);
    await expectDescribed(document, '/healthz', 'get', await fetch(`${server.url}/healthz`), 200);
    await expectDescribed(document, '/readyz', 'get', await fetch(`${server.url}/readyz`), 200);
    await expectDescribed(document, '/metrics', 'get', await fetch(`${server.url}/metrics`), 200);
    await expectDescribed(document, '/openapi.json', 'get', await fetch(`${server.url}/openapi.json`), 200);
    // Behind a proxy that cuts its path off and says which (X-Forwarded-Prefix), the document names it as its server;
    // a header that is not a path is passed over.
    const proxied = await fetch(`${server.url}/openapi.json`, { headers: { 'x-forwarded-prefix': '/graft' } });
    expect(proxied.headers.get('vary')).toMatch(/X-Forwarded-Prefix/i);
    expect(((await proxied.json()) as OpenApiDocument).servers).toEqual([{ url: '/graft', description: expect.stringContaining('X-Forwarded-Prefix') }]);
    const foreign = (await (await fetch(`${server.url}/openapi.json`, { headers: { 'x-forwarded-prefix': '//evil.example/x' } })).json()) as OpenApiDocument;
    expect(foreign).not.toHaveProperty('servers');

    const notFound = (await expectDescribed(document, predictPath, 'post', await fetch(`${server.url}/v1/models/wasps/predict`, { method: 'POST', body: jpeg, headers: { 'content-type': 'image/jpeg' } }), 404)) as { error: { code: string; requestId?: string } };
    expect(notFound.error.code).toBe('MODEL_NOT_FOUND');
    // Every error body names its request (X-Request-Id), and the document describes that field.
    expect(notFound.error.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.stringify(document.components.schemas['Error'])).toContain('"requestId"');
    await expectDescribed(document, '/v1/models/{name}', 'get', await fetch(`${server.url}/v1/models/wasps`), 404);
    await expectDescribed(document, predictPath, 'post', await fetch(predict, { method: 'POST', body: 'a photo of a bee', headers: { 'content-type': 'text/plain' } }), 415);
    await expectDescribed(document, predictPath, 'post', await fetch(predict, { method: 'POST', body: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), headers: { 'content-type': 'image/png' } }), 415);
    await expectDescribed(document, predictPath, 'get', await fetch(predict), 405);

    // Not a vacuous check: an answer of another shape does not fit.
    const validate = ajv.compile({ $ref: `openapi.json#${pointerTo(document, schemaFor(document, predictPath, 'post', 200, 'application/json'))}` });
    expect(validate({ model: 'bees', predictions: [{ label: 'bees', score: 0.9 }], timing_ms: { decode: 1, inference: 1, total: 2 } })).toBe(false);
    expect(validate({ model: 'bees', results: [{ predictions: [] }] })).toBe(false);
  });

  it('with a token: the bearer scheme, /healthz and /readyz open, everything else (the document too) a 401 that fits it', async () => {
    expect((await fetch(`${guarded.url}/openapi.json`)).status).toBe(401);
    const response = await fetch(`${guarded.url}/openapi.json`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const doc = (await response.json()) as OpenApiDocument;
    ajv.addSchema({ ...doc, $id: 'guarded.json' });
    expect(doc.components.securitySchemes).toEqual({ bearerAuth: expect.objectContaining({ type: 'http', scheme: 'bearer' }) });
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.paths['/healthz']!.get!.security).toEqual([]);
    expect(doc.paths['/readyz']!.get!.security).toEqual([]);
    expect(doc.paths['/healthz']!.get!.responses['401']).toBeUndefined();
    expect(doc.paths['/v1/models/{name}/predict']!.post!.parameters![0]!.schema['enum']).toEqual(['guarded-bees']);

    const unauthorized = (await expectDescribed(doc, '/v1/models/{name}/predict', 'post', await fetch(`${guarded.url}/v1/models/guarded-bees/predict`, { method: 'POST', body: jpeg, headers: { 'content-type': 'image/jpeg' } }), 401)) as { error: { code: string } };
    expect(unauthorized.error.code).toBe('UNAUTHORIZED');
    await expectDescribed(doc, '/v1/models', 'get', await fetch(`${guarded.url}/v1/models`), 401);
    await expectDescribed(doc, '/healthz', 'get', await fetch(`${guarded.url}/healthz`), 200);
    await expectDescribed(doc, '/v1/models/{name}/predict', 'post', await fetch(`${guarded.url}/v1/models/guarded-bees/predict`, { method: 'POST', body: jpeg, headers: { 'content-type': 'image/jpeg', authorization: `Bearer ${TOKEN}` } }), 200);
  });
});

skipReason('the OpenAPI document tests');

/** The JSON pointer of an object inside the document (found by identity). */
function pointerTo(root: unknown, target: unknown, path = ''): string {
  const found = search(root, target, path);
  if (found === undefined) throw new Error('schema not found in the document');
  return found;
}

function search(node: unknown, target: unknown, path: string): string | undefined {
  if (node === target) return path;
  if (node === null || typeof node !== 'object') return undefined;
  for (const [key, value] of Object.entries(node)) {
    const found = search(value, target, `${path}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`);
    if (found !== undefined) return found;
  }
  return undefined;
}
