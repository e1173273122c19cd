import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSyntheticDataset } from '../../src/data/synthetic.js';
import { train } from '../../src/recipes/train.js';
import { GraftModel } from '../../src/model/graft-model.js';
import { startServer, type GraftServer } from '../../src/serve/start-server.js';
import { hymenoptera, repoRoot, tempDir } from '../support.js';

interface Prediction {
  label: string;
  probability: number;
}
interface PredictReply {
  model: string;
  predictions: Prediction[];
  timing_ms: { decode: number; inference: number; total: number };
  results?: { predictions: Prediction[]; timing_ms: object }[];
}
interface ErrorReply {
  error: { code: string; message: string };
}

// One server over real loopback HTTP, serving a tiny model trained here on the bundled backbone (no
// ../shared needed) and a copy of it that the hot-reload test overwrites.
let root: string;
let server: GraftServer;
let shapesDir: string;
let otherDir: string;
let jpeg: Buffer;
let png: Buffer;
const MAX_UPLOAD = 1_000_000;

beforeAll(async () => {
  root = await tempDir('graft-serve-');
  const cacheDir = join(root, 'cache');
  const ds = await writeSyntheticDataset(join(root, 'ds'), { perClass: 8 });
  shapesDir = join(root, 'shapes');
  await train({ train: ds.trainDir, val: ds.valDir, backbone: 'nsfwjs_mobilenet_v2', out: shapesDir, cacheDir, offline: true });
  // The same images under other class names: a model with different labels (features come from the cache).
  const renamed = join(root, 'renamed');
  await cp(ds.root, renamed, { recursive: true });
  for (const split of ['train', 'val']) {
    for (const label of await readdir(join(renamed, split))) await rename(join(renamed, split, label), join(renamed, split, `${label}-v2`));
  }
  otherDir = join(root, 'other');
  await train({ train: join(renamed, 'train'), val: join(renamed, 'val'), backbone: 'nsfwjs_mobilenet_v2', out: otherDir, cacheDir, offline: true });
  await cp(shapesDir, join(root, 'live'), { recursive: true });

  const jpegFile = existsSync(join(hymenoptera, 'val/bees'))
    ? join(hymenoptera, 'val/bees', (await readdir(join(hymenoptera, 'val/bees'))).sort()[0]!)
    : ds.files.find((f) => f.endsWith('.jpg'))!;
  jpeg = await readFile(jpegFile);
  png = await readFile(ds.files.find((f) => f.endsWith('.png'))!);

  server = await startServer({
    models: [shapesDir, join(root, 'live')],
    port: 0,
    maxUploadBytes: MAX_UPLOAD,
    reloadPollMs: 100,
    batchWindowMs: 5,
  });
});

afterAll(async () => {
  await server?.close();
});

async function post(path: string, body: Buffer | string | FormData, contentType?: string): Promise<Response> {
  return fetch(`${server.url}${path}`, { method: 'POST', body, headers: contentType ? { 'content-type': contentType } : {} });
}

async function expectError(response: Response, status: number, code: string): Promise<void> {
  const body = (await response.json()) as ErrorReply;
  expect({ status: response.status, code: body.error?.code }, body.error?.message).toEqual({ status, code });
  expect(body.error.message.length).toBeGreaterThan(10);
}

/** A PNG whose header says width x height but whose data is a few bytes: a decompression bomb. */
function pngBomb(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(1024))), chunk('IEND', Buffer.alloc(0))]);
}

function crc32(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

describe('graft serve: HTTP API', () => {
  it('answers health, readiness, model listing and model details', async () => {
    expect(await (await fetch(`${server.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', models: ['shapes', 'live'] });

    const list = (await (await fetch(`${server.url}/v1/models`)).json()) as { models: { name: string; labels: string[] }[] };
    expect(list.models.map((m) => m.name)).toEqual(['shapes', 'live']);
    const details = (await (await fetch(`${server.url}/v1/models/shapes`)).json()) as Record<string, any>;
    expect(details.labels).toEqual(['circles', 'squares', 'triangles']);
    expect(details.preprocessing).toMatchObject({ inputSize: 224, scale: '0..1', layout: 'nhwc', resize: 'stretch' });
    expect(details.metrics.val.accuracy).toBeGreaterThan(0);
    // The linear head has no epochs; its choice was cross-validated on the training images.
    expect(details.metrics.history).toEqual([]);
    expect(details.cv.accuracy).toBeGreaterThan(0);
    expect(details.cv.folds).toBeGreaterThanOrEqual(2);
    expect(details.backbone.name).toBe('nsfwjs_mobilenet_v2');

    await expectError(await fetch(`${server.url}/v1/models/nope`), 404, 'MODEL_NOT_FOUND');
    await expectError(await post('/v1/models/nope/predict', jpeg, 'image/jpeg'), 404, 'MODEL_NOT_FOUND');
    await expectError(await fetch(`${server.url}/v2/nothing`), 404, 'NOT_FOUND');
  });

  it('classifies a raw image body exactly as GraftModel.predictBytes does', async () => {
    const response = await post('/v1/models/shapes/predict?top_k=2', jpeg, 'image/jpeg');
    const reply = (await response.json()) as PredictReply;
    expect(response.status, JSON.stringify(reply)).toBe(200);
    expect(reply.model).toBe('shapes');
    expect(reply.predictions).toHaveLength(2);
    expect(reply.timing_ms.total).toBeGreaterThanOrEqual(reply.timing_ms.inference);
    const model = await GraftModel.load(shapesDir);
    try {
      const expected = await model.predictBytes(jpeg, { topK: 2 });
      expect(reply.predictions.map((p) => p.label)).toEqual(expected.map((p) => p.label));
      reply.predictions.forEach((p, i) => expect(p.probability).toBeCloseTo(expected[i]!.probability, 5));
      // The library takes bytes as any Uint8Array (fetch's arrayBuffer), not only a Buffer: a view into a larger buffer too.
      const padded = new Uint8Array(jpeg.length + 8);
      padded.set(jpeg, 4);
      expect(await model.predictBytes(padded.subarray(4, 4 + jpeg.length), { topK: 2 })).toEqual(expected);
      expect(await model.predictBytes(padded.slice(4, 4 + jpeg.length).buffer, { topK: 2 })).toEqual(expected);
      // A file list's run checks its batch size and stops on an aborted signal.
      const file = join(await tempDir(), 'x.jpg');
      await writeFile(file, jpeg);
      await expect(model.probabilities([file], { batchSize: Number.NaN })).rejects.toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringContaining('batchSize') });
      await expect(model.predict([file, file], { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'CANCELLED' });
      // Cancelled while only unreadable files are left: stopped there, not at the end of the list.
      const controller = new AbortController();
      const missing = Array.from({ length: 500 }, (_, i) => join(dirname(file), `missing-${i}.jpg`));
      let seen = 0;
      const run = model.predict([file, ...missing], { batchSize: 1, onProgress: (e) => { if (e.type === 'skip' && ++seen === 10) controller.abort(); }, signal: controller.signal });
      await expect(run).rejects.toMatchObject({ code: 'CANCELLED' });
      expect(seen).toBeLessThan(20);
    } finally {
      await model.dispose();
    }
    const asPng = (await (await post('/v1/models/shapes/predict', png, 'image/png')).json()) as PredictReply;
    expect(asPng.predictions).toHaveLength(3); // top_k 5 capped at the 3 labels
    // A BMP (which libvips cannot read) is answered as the same picture in PNG is.
    const fixture = (name: string): Promise<Buffer> => readFile(join(repoRoot, 'test/fixtures/bmp', name));
    const bmpReply = (await (await post('/v1/models/shapes/predict', await fixture('pal8.bmp'), 'image/bmp')).json()) as PredictReply;
    const pngReply = (await (await post('/v1/models/shapes/predict', await fixture('pal8.png'), 'image/png')).json()) as PredictReply;
    expect(bmpReply.predictions).toEqual(pngReply.predictions);
  });

  it('takes multipart uploads, one file or a batch, with top_k as a field', async () => {
    const one = new FormData();
    one.append('image', new Blob([jpeg], { type: 'image/jpeg' }), 'bee.jpg');
    one.append('top_k', '1');
    const single = (await (await post('/v1/models/shapes/predict', one)).json()) as PredictReply;
    expect(single.predictions).toHaveLength(1);
    // The field's top_k has the query's and the JSON body's bounds.
    const tooMany = new FormData();
    tooMany.append('image', new Blob([jpeg], { type: 'image/jpeg' }), 'bee.jpg');
    tooMany.append('top_k', '5000');
    const refused = await post('/v1/models/shapes/predict', tooMany);
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain('from 1 to 1000');

    const many = new FormData();
    for (const bytes of [jpeg, png, jpeg]) many.append('image', new Blob([bytes]), 'x');
    const response = await post('/v1/models/shapes/predict', many);
    const batch = (await response.json()) as PredictReply;
    expect(response.status, JSON.stringify(batch)).toBe(200);
    expect(batch.results).toHaveLength(3);
    expect(batch.results![0]!.predictions[0]!.label).toBe(single.predictions[0]!.label);
  });

  it('takes JSON with base64: { image } and { images }', async () => {
    const single = (await (await post('/v1/models/shapes/predict', JSON.stringify({ image: jpeg.toString('base64'), top_k: 2 }), 'application/json')).json()) as PredictReply;
    expect(single.predictions).toHaveLength(2);
    const dataUrl = `data:image/png;base64,${png.toString('base64')}`;
    const batch = (await (await post('/v1/models/shapes/predict', JSON.stringify({ images: [jpeg.toString('base64'), dataUrl] }), 'application/json')).json()) as PredictReply;
    expect(batch.results).toHaveLength(2);
    await expectError(await post('/v1/models/shapes/predict', JSON.stringify({ picture: 'x' }), 'application/json'), 400, 'BAD_REQUEST');
    await expectError(await post('/v1/models/shapes/predict?top_k=0', jpeg, 'image/jpeg'), 400, 'BAD_REQUEST');
    // Digits only, as the body forms read it (a schema's type coercion took "0x1" and "1e0" for 1).
    for (const odd of ['0x1', '1e0', '1.0', '5000']) await expectError(await post(`/v1/models/shapes/predict?top_k=${odd}`, jpeg, 'image/jpeg'), 400, 'BAD_REQUEST');
  });

  it('enforces every limit with a JSON error and keeps serving', async () => {
    const big = Buffer.concat([jpeg.subarray(0, 3), Buffer.alloc(MAX_UPLOAD + 10)]);
    await expectError(await post('/v1/models/shapes/predict', big, 'image/jpeg'), 413, 'PAYLOAD_TOO_LARGE');
    const form = new FormData();
    form.append('image', new Blob([big]), 'big.jpg');
    await expectError(await post('/v1/models/shapes/predict', form), 413, 'PAYLOAD_TOO_LARGE');
    await expectError(await post('/v1/models/shapes/predict', JSON.stringify({ image: big.toString('base64') }), 'application/json'), 413, 'PAYLOAD_TOO_LARGE');

    // 60000 x 60000 RGB would be 10.8 GB decoded; refused from the header, quickly.
    const bomb = pngBomb(60_000, 60_000);
    expect(bomb.length).toBeLessThan(2000);
    const started = performance.now();
    await expectError(await post('/v1/models/shapes/predict', bomb, 'image/png'), 413, 'IMAGE_TOO_LARGE');
    expect(performance.now() - started).toBeLessThan(2000);

    await expectError(await post('/v1/models/shapes/predict', 'hello, I am not a photo', 'text/plain'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    await expectError(await post('/v1/models/shapes/predict', Buffer.from('<html>not a photo</html>'), 'image/jpeg'), 415, 'NOT_AN_IMAGE');
    await expectError(await post('/v1/models/shapes/predict', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), 'image/svg+xml'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    await expectError(await post('/v1/models/shapes/predict', jpeg.subarray(0, Math.floor(jpeg.length / 3)), 'image/jpeg'), 400, 'UNREADABLE_IMAGE');
    await expectError(await post('/v1/models/shapes/predict', Buffer.alloc(0), 'image/jpeg'), 415, 'NOT_AN_IMAGE');

    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect((await post('/v1/models/shapes/predict', jpeg, 'image/jpeg')).status).toBe(200);
  });

  it('answers 503 TIMEOUT when a prediction outlasts requestTimeoutMs', async () => {
    const slow = await startServer({ models: [shapesDir], port: 0, requestTimeoutMs: 1, watch: false });
    try {
      const response = await fetch(`${slow.url}/v1/models/shapes/predict`, { method: 'POST', body: jpeg, headers: { 'content-type': 'image/jpeg' } });
      await expectError(response, 503, 'TIMEOUT');
    } finally {
      await slow.close();
    }
  });

  it('stops decoding a batch nobody waits for: after its 503, the next request is not queued behind it', async () => {
    // One decode at a time; 64 images of 36 megapixels are seconds of decoding, far past the 0.5 s deadline.
    const big = await (await import('sharp')).default({ create: { width: 6000, height: 6000, channels: 3, background: '#808080' } }).png().toBuffer();
    const busy = await startServer({ models: [shapesDir], port: 0, requestTimeoutMs: 500, maxConcurrentDecodes: 1, watch: false });
    try {
      const url = `${busy.url}/v1/models/shapes/predict`;
      const batch = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ images: Array(64).fill(big.toString('base64')) }) });
      await expectError(batch, 503, 'TIMEOUT');
      // Before: the images left kept the one decoder busy, and this request timed out behind them.
      const started = performance.now();
      const next = await fetch(url, { method: 'POST', body: jpeg, headers: { 'content-type': 'image/jpeg' } });
      expect(next.status, await next.clone().text()).toBe(200);
      expect(performance.now() - started).toBeLessThan(500);
    } finally {
      await busy.close();
    }
  });

  it('batches 16 concurrent requests into fewer onnxruntime runs, all answered', async () => {
    const replies = await Promise.all(Array.from({ length: 16 }, () => post('/v1/models/shapes/predict', jpeg, 'image/jpeg')));
    expect(replies.map((r) => r.status)).toEqual(Array(16).fill(200));
    const labels = await Promise.all(replies.map(async (r) => ((await r.json()) as PredictReply).predictions[0]!.label));
    expect(new Set(labels).size).toBe(1);

    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const count = Number(/^graft_batch_size_count\{model="shapes"\} (\d+)/m.exec(metrics)?.[1]);
    const singles = Number(/^graft_batch_size_bucket\{model="shapes",le="1"\} (\d+)/m.exec(metrics)?.[1]);
    expect(count).toBeGreaterThan(0);
    expect(count - singles, 'at least one run held more than one image').toBeGreaterThan(0);
    expect(metrics).toMatch(/^graft_http_requests_total\{route="\/v1\/models\/:name\/predict",method="POST",status="200"\} \d+/m);
    expect(metrics).toMatch(/^graft_http_requests_total\{route="\/v1\/models\/:name\/predict",method="POST",status="413"\} \d+/m);
    expect(metrics).toMatch(/^graft_http_request_duration_seconds_bucket\{route="\/v1\/models\/:name\/predict",method="POST",le="0.1"\} \d+/m);
    expect(metrics).toMatch(/^graft_models_loaded 2$/m);
  });

  it('hot-reloads a model whose directory is overwritten, without dropping requests', async () => {
    const liveDir = join(root, 'live');
    const before = (await (await fetch(`${server.url}/v1/models/live`)).json()) as { labels: string[] };
    expect(before.labels).toEqual(['circles', 'squares', 'triangles']);
    // Requests keep flowing while the files change underneath.
    let isCopying = true;
    const traffic = (async () => {
      const statuses: number[] = [];
      while (isCopying) statuses.push((await post('/v1/models/live/predict', jpeg, 'image/jpeg')).status);
      return statuses;
    })();
    await cp(otherDir, liveDir, { recursive: true, force: true });
    let labels: string[] = before.labels;
    for (let i = 0; i < 100 && labels[0] === 'circles'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      labels = ((await (await fetch(`${server.url}/v1/models/live`)).json()) as { labels: string[] }).labels;
    }
    isCopying = false;
    expect(labels).toEqual(['circles-v2', 'squares-v2', 'triangles-v2']);
    expect(new Set(await traffic)).toEqual(new Set([200]));
    const after = (await (await post('/v1/models/live/predict', jpeg, 'image/jpeg')).json()) as PredictReply;
    expect(after.predictions[0]!.label).toMatch(/-v2$/);
    expect(await (await fetch(`${server.url}/metrics`)).text()).toMatch(/^graft_model_reloads_total\{model="live",result="ok"\} [1-9]/m);
  });

  it('serves a web root at / and refuses paths outside it', async () => {
    const web = join(root, 'web');
    await mkdir(web, { recursive: true });
    await writeFile(join(web, 'index.html'), '<!doctype html><title>graft</title>');
    const withWeb = await startServer({ models: [shapesDir], port: 0, webRoot: web, watch: false });
    try {
      const page = await fetch(`${withWeb.url}/`);
      expect(page.headers.get('content-type')).toMatch(/text\/html/);
      expect(await page.text()).toContain('<title>graft</title>');
      expect((await fetch(`${withWeb.url}/%2e%2e/cache`)).status).toBe(404);
      expect((await fetch(`${withWeb.url}/healthz`)).status).toBe(200);
    } finally {
      await withWeb.close();
    }
  });
});
