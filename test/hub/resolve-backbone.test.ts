import { createServer, type Server } from 'node:http';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraftError } from '../../src/core/errors.js';
import { CATALOGUE, findEntryBySha256 } from '../../src/hub/catalogue.js';
import { downloadFile } from '../../src/hub/download.js';
import { nameOfUrl, resolveBackbone } from '../../src/hub/resolve-backbone.js';
import { openBackbone } from '../../src/engine/open-backbone.js';
import { hasShared, int8FeatModel, int8Model, sharedDir, skipReason, tempDir } from '../support.js';

describe('resolveBackbone without the network', () => {
  it('finds the bundled backbone with a stable content id', async () => {
    const cacheDir = await tempDir();
    const a = await resolveBackbone('nsfwjs_mobilenet_v2', { cacheDir, offline: true });
    const b = await resolveBackbone('nsfwjs_mobilenet_v2', { cacheDir, offline: true });
    expect(a.location).toEqual({ kind: 'bundled', bundle: 'nsfwjs' });
    expect(a.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(a.sha256).toBe(b.sha256);
  });

  it('says how to get a catalogue model that is not available offline', async () => {
    const cacheDir = await tempDir();
    const error = await resolveBackbone('mobilenet_v2', { cacheDir, offline: true, modelDirs: [join(cacheDir, 'none')] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GraftError);
    expect((error as GraftError).code).toBe('OFFLINE');
    expect((error as GraftError).hint).toContain(CATALOGUE.mobilenet_v2.url);
    expect((error as GraftError).hint).toContain('--backbone <path>');
  });

  it('rejects an unknown name and lists the catalogue', async () => {
    const error = (await resolveBackbone('resnet9000', { cacheDir: await tempDir() }).catch((e: unknown) => e)) as GraftError;
    expect(error.code).toBe('MODEL_NOT_FOUND');
    expect(error.hint).toContain('mobilenet_v2');
  });
});

describe('the name of a model fetched by URL', () => {
  it('names a hub model by its path without the version segments, so that two TF Hub models are not both "3/default/1"', () => {
    const hub = (path: string) => `https://tfhub.dev/google/tfjs-model/${path}/model.json?tfjs-format=file`;
    expect(nameOfUrl(hub('imagenet/mobilenet_v2_100_224/feature_vector/3/default/1'), 'model')).toBe('imagenet/mobilenet_v2_100_224/feature_vector');
    expect(nameOfUrl(hub('imagenet/mobilenet_v3_small_100_224/feature_vector/5/default/1'), 'model')).toBe('imagenet/mobilenet_v3_small_100_224/feature_vector');
    expect(nameOfUrl(CATALOGUE.inception_v3.url, 'model')).toBe('imagenet/inception_v3/feature_vector');
    expect(nameOfUrl('https://www.kaggle.com/models/google/mobilenet-v2/tfJs/100-224-feature-vector/3', '3')).toBe('mobilenet-v2/tfJs/100-224-feature-vector');
    expect(nameOfUrl('https://storage.googleapis.com/tfjs-models/savedmodel/mobilenet_v2_1.0_224/model.json', 'model')).toBe('tfjs-models/savedmodel/mobilenet_v2_1.0_224');
  });

  it("names a single file by its own name, query dropped, and falls back to the model's where the path says nothing", () => {
    expect(nameOfUrl(`${CATALOGUE.mobilenet_v2.url}?raw=true`, 'x')).toBe('mobilenetv2-12-int8');
    expect(nameOfUrl('https://host/path/mobilenetv2-12-int8.onnx', 'x')).toBe('mobilenetv2-12-int8');
    expect(nameOfUrl('https://host/keras/weights.v2.h5', 'x')).toBe('weights.v2');
    expect(nameOfUrl('https://host/model.json', 'fallback')).toBe('fallback');
    expect(nameOfUrl('https://host/2/default/1/model.json', 'fallback')).toBe('fallback');
  });
});

skipReason('hub tests on the real models');
describe.skipIf(!hasShared)('resolveBackbone with real model files', () => {
  let server: Server;
  let base: string;
  const requests: string[] = [];

  beforeAll(async () => {
    const bytes = readFileSync(int8Model);
    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      if (req.url === '/moved/model.onnx') {
        res.writeHead(302, { location: '/models/mobilenetv2-12-int8.onnx' }).end();
      } else if (req.url === '/models/mobilenetv2-12-int8.onnx') {
        res.writeHead(200, { 'content-length': bytes.length }).end(bytes);
      } else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('recognises a local copy of a catalogue model by its sha256 and takes its preprocessing from the entry', async () => {
    const resolved = await resolveBackbone(int8Model, { cacheDir: await tempDir() });
    expect(resolved.entry?.name).toBe('mobilenet_v2');
    expect(findEntryBySha256(resolved.sha256)?.name).toBe('mobilenet_v2');
    const handle = await openBackbone(resolved, { cacheDir: await tempDir() });
    expect(handle.info.preprocessing).toMatchObject({ inputSize: 224, scale: 'imagenet', layout: 'nchw' });
    expect(handle.info.featureDim).toBe(1280);
  });

  it('finds a catalogue name in GRAFT_MODELS_DIR-style folders, checking the hash', async () => {
    const resolved = await resolveBackbone('mobilenet_v2', { cacheDir: await tempDir(), modelDirs: [join(sharedDir, 'models')], offline: true });
    expect(resolved.location).toEqual({ kind: 'onnx', path: int8Model });
    const tm = await resolveBackbone('mobilenet_v2_035', { cacheDir: await tempDir(), modelDirs: [join(sharedDir, 'models')], offline: true });
    expect(tm.location).toEqual({ kind: 'tfjs-layers', dir: join(sharedDir, 'models/tm-mobilenetv2-035/base') });
  });

  it('downloads a URL once (following a redirect) into the cache and serves later calls from it', async () => {
    const cacheDir = await tempDir();
    const first = await resolveBackbone(`${base}/moved/model.onnx`, { cacheDir });
    expect(first.entry?.name).toBe('mobilenet_v2');
    const before = requests.length;
    const second = await resolveBackbone(`${base}/moved/model.onnx`, { cacheDir, offline: true });
    expect(requests.length).toBe(before);
    expect(second.sha256).toBe(first.sha256);
  });

  it('rejects a download whose sha256 is wrong and leaves nothing behind', async () => {
    const dir = await tempDir();
    const dest = join(dir, 'model.onnx');
    const error = (await downloadFile(`${base}/models/mobilenetv2-12-int8.onnx`, dest, { sha256: '0'.repeat(64) }).catch((e: unknown) => e)) as GraftError;
    expect(error.code).toBe('MODEL_NOT_FOUND');
    expect(error.message).toContain('sha256');
    expect(readdirSync(dir)).toEqual([]);
    expect(existsSync(dest)).toBe(false);
  });

  it('a feature model whose output is the pooled map [N, C, 1, 1] gives its C values (PyTorch features + avgpool)', async () => {
    const original = join(sharedDir, 'models/mobilenetv3-small-onnx/mobilenetv3_embed_batch.onnx');
    const cacheDir = await tempDir();
    const handle = await openBackbone(await resolveBackbone(original, { cacheDir }), { cacheDir, overrides: { scale: 'imagenet' } });
    expect(handle.info.featureDim).toBe(576);
  });

  it("a Teachable Machine export declares its [-1, 1] scaling (metadata.json's packageName, or keras_model.h5 beside labels.txt)", async () => {
    const cacheDir = await tempDir();
    const tm = join(sharedDir, 'models/tm-mobilenetv2-035/original');
    const h5 = join(sharedDir, 'models/tm-keras-h5/renoirtan-bbc2021/keras_model.h5');
    for (const backbone of [tm, h5]) {
      const handle = await openBackbone(await resolveBackbone(backbone, { cacheDir }), { cacheDir });
      expect(handle.info.preprocessing, backbone).toMatchObject({ scale: '-1..1', layout: 'nhwc', inputSize: 224 });
    }
    // The same model without its metadata.json is an unknown model: the scale is not guessed.
    const { cp, rm } = await import('node:fs/promises');
    const bare = join(await tempDir(), 'tm');
    await cp(tm, bare, { recursive: true });
    await rm(join(bare, 'metadata.json'));
    const error = (await openBackbone(await resolveBackbone(bare, { cacheDir }), { cacheDir }).catch((e: unknown) => e)) as GraftError;
    expect(error.code).toBe('UNKNOWN_PREPROCESSING');
  });

  it('an unknown ONNX file needs --scale; its size and layout are read off the model', async () => {
    const resolved = await resolveBackbone(int8FeatModel, { cacheDir: await tempDir() });
    expect(resolved.entry).toBeUndefined();
    const error = (await openBackbone(resolved, { cacheDir: await tempDir() }).catch((e: unknown) => e)) as GraftError;
    expect(error.code).toBe('UNKNOWN_PREPROCESSING');
    expect(error.hint).toContain('--scale');
    expect(error.hint).not.toContain('--input-size');
    const handle = await openBackbone(resolved, { cacheDir: await tempDir(), overrides: { scale: 'imagenet' } });
    expect(handle.info.preprocessing).toMatchObject({ inputSize: 224, layout: 'nchw', scale: 'imagenet' });
    // A layout against the one the file declares cannot run: refused before any image, naming the model's.
    const wrong = (await openBackbone(resolved, { cacheDir: await tempDir(), overrides: { scale: 'imagenet', layout: 'nhwc' } }).catch((e: unknown) => e)) as GraftError;
    expect(wrong.code).toBe('INVALID_CONFIG');
    expect(wrong.message).toMatch(/--layout nhwc does not fit .*: its input is NCHW/);
  });
});
