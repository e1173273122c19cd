import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraftError } from '../../src/core/errors.js';
import { decodeOnnxModel, encodeOnnxModel, onnx, readOnnxModel, type ModelProto } from '../../src/onnx/onnx-model.js';
import { resolveBackbone } from '../../src/hub/resolve-backbone.js';
import { train } from '../../src/recipes/train.js';
import { GraftModel } from '../../src/model/graft-model.js';
import { copySubset, hasShared, hymenoptera, int8Model, repoRoot, runCli, sharedDir, skipReason, tempDir } from '../support.js';

const v3Small = join(sharedDir, 'models/mobilenetv3-small-onnx/mobilenetv3-small-feat.onnx');

/** Writes `source` as model.onnx + a weights file holding every initializer over 1 KB, as ONNX external data. */
async function writeWithExternalData(source: string, dir: string, location = 'weights.bin'): Promise<string> {
  const model = decodeOnnxModel(await readFile(source), source);
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const tensor of model.graph!.initializer ?? []) {
    if (!tensor.rawData || tensor.rawData.length <= 1024) continue;
    chunks.push(Buffer.from(tensor.rawData));
    tensor.externalData = [{ key: 'location', value: location }, { key: 'offset', value: String(offset) }, { key: 'length', value: String(tensor.rawData.length) }];
    tensor.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    offset += tensor.rawData.length;
    tensor.rawData = new Uint8Array(0);
  }
  await mkdir(dir, { recursive: true });
  if (!location.startsWith('/') && !location.includes('..')) await writeFile(join(dir, location), Buffer.concat(chunks));
  await writeFile(join(dir, 'model.onnx'), encodeOnnxModel(model));
  return join(dir, 'model.onnx');
}

/** The model with its input's batch dimension fixed at 1, as many exporters write it. */
function batchOne(model: ModelProto): ModelProto {
  const dim = model.graph!.input![0]!.type!.tensorType!.shape!.dim![0]!;
  dim.dimParam = '';
  dim.dimValue = 1;
  return model;
}

skipReason('hostile model tests');
// Issue 9, problems 6 and 7: a batch-1 ONNX backbone failed with "Got invalid dimensions" (exit 1), and external
// data was resolved against the working directory. Real models from ../shared.
describe.skipIf(!hasShared)('models that are unusual but valid, and ones that try to leave their folder', () => {
  let root: string;
  let photos: string;
  beforeAll(async () => {
    root = await tempDir('graft-hostile-models-');
    photos = await copySubset(join(hymenoptera, 'train'), join(root, 'photos'), 6);
  });
  afterAll(async () => rm(root, { recursive: true, force: true }));

  it('trains on an ONNX backbone whose batch is fixed at 1 (one image at a time) and predicts batches the same as single images', async () => {
    const path = join(root, 'batch1', 'mobilenetv2-batch1.onnx');
    await mkdir(join(root, 'batch1'), { recursive: true });
    await writeFile(path, encodeOnnxModel(batchOne(await readOnnxModel(int8Model))));
    const out = join(root, 'batch1-model');
    const result = await train({ train: photos, backbone: path, out, cacheDir: join(root, 'cache'), overrides: { scale: 'imagenet' }, config: { epochs: 3 } });
    expect(result.images.train + result.images.val).toBe(12);
    const model = await GraftModel.load(out);
    try {
      const files = (await readdir(join(photos, 'ants'))).slice(0, 4).map((n) => join(photos, 'ants', n));
      const batch = await model.predict(files, { topK: 2 });
      expect(batch.results).toHaveLength(4);
      for (const r of batch.results) {
        const single = await model.predict([r.file], { topK: 2 });
        expect(single.results[0]!.predictions[0]!.probability).toBeCloseTo(r.predictions[0]!.probability, 5);
      }
    } finally {
      await model.dispose();
    }
    // Fine-tuning runs batches, so it refuses such a model up front, with the reason and what to do.
    const refused = await train({ train: photos, backbone: path, out: join(root, 'batch1-ft'), cacheDir: join(root, 'cache'), overrides: { scale: 'imagenet' }, config: { epochs: 1 }, fineTune: { unfreeze: 'last:1', epochs: 1, views: 0 } }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(GraftError);
    expect(refused).toMatchObject({ code: 'UNSUPPORTED_MODEL', message: expect.stringMatching(/batch size fixed at 1/) });
  });

  it('reads external data next to the model whatever the working directory, the same weights as the inline model', async () => {
    const path = await writeWithExternalData(v3Small, join(root, 'external'));
    expect(process.cwd()).not.toBe(join(root, 'external'));
    const common = { train: photos, valSplit: 0.25, cacheDir: join(root, 'cache'), overrides: { scale: 'imagenet' as const }, config: { epochs: 4 } };
    const external = await train({ ...common, backbone: path, out: join(root, 'ext-model') });
    const inline = await train({ ...common, backbone: v3Small, out: join(root, 'inline-model') });
    expect(external.val!.loss).toBe(inline.val!.loss);
    // The model written from it is self-contained.
    expect(existsSync(join(root, 'ext-model', 'weights.bin'))).toBe(false);
    const model = await GraftModel.load(join(root, 'ext-model'));
    await model.dispose();

    const converted = await runCli(['convert', path, '--to', 'tfjs', '--out', join(root, 'ext-tfjs'), '--json']);
    expect(converted.code, converted.stderr).toBe(0);
    expect(JSON.parse(converted.stdout)).toMatchObject({ check: { maxAbsDiff: expect.any(Number) } });
  });

  it('changes the backbone id when the external weights change (a stale cache hit is impossible)', async () => {
    const path = await writeWithExternalData(v3Small, join(root, 'external-hash'));
    const before = await resolveBackbone(path, { cacheDir: join(root, 'cache'), offline: true });
    const weights = await readFile(join(root, 'external-hash', 'weights.bin'));
    weights[100] = weights[100]! ^ 0xff;
    await writeFile(join(root, 'external-hash', 'weights.bin'), weights);
    const after = await resolveBackbone(path, { cacheDir: join(root, 'cache'), offline: true });
    expect(after.sha256).not.toBe(before.sha256);
  });

  it('refuses external data outside the model folder (.., absolute, through a link) or that does not fit, with exit 3', async () => {
    const cases: [string, () => Promise<string>, RegExp][] = [
      ['..', () => writeWithExternalData(v3Small, join(root, 'ref-up'), '../weights.bin'), /leaves the model's folder/],
      ['absolute', () => writeWithExternalData(v3Small, join(root, 'ref-abs'), '/etc/passwd'), /not a relative path/],
      ['a link out', async () => {
        const dir = join(root, 'ref-link');
        const path = await writeWithExternalData(v3Small, dir);
        await rm(join(dir, 'weights.bin'));
        await symlink('/etc/hostname', join(dir, 'weights.bin'));
        return path;
      }, /out of the model's folder through a symbolic link/],
      ['truncated', async () => {
        const dir = join(root, 'ref-short');
        const path = await writeWithExternalData(v3Small, dir);
        const weights = await readFile(join(dir, 'weights.bin'));
        await writeFile(join(dir, 'weights.bin'), weights.subarray(0, weights.length / 2));
        return path;
      }, /do not fit/],
    ];
    for (const [what, make, message] of cases) {
      const path = await make();
      await expect(readOnnxModel(path), what).rejects.toMatchObject({ code: 'UNSUPPORTED_MODEL', message: expect.stringMatching(message) });
      const cli = await runCli(['train', photos, '--backbone', path, '--scale', 'imagenet', '--out', join(root, `out-${what}`), '--json'], { GRAFT_CACHE_DIR: join(root, 'cache') });
      expect({ what, code: cli.code }).toEqual({ what, code: 3 });
      expect(JSON.parse(cli.stdout).error.message).toMatch(message);
    }
  });
});

// Issue 9, problem 6: errors that are not GraftErrors exited 1; a damaged HDF5 file printed 58 lines of diagnostics.
describe('the command line keeps its exit-code contract', () => {
  let root: string;
  beforeAll(async () => {
    root = await tempDir('graft-exit-codes-');
  });
  afterAll(async () => rm(root, { recursive: true, force: true }));

  it('a file with an HDF5 signature followed by garbage: exit 3, one error, no HDF5 diagnostics', async () => {
    const file = join(root, 'garbage.h5');
    const bytes = Buffer.alloc(4096, 0).map((_, i) => (i * 7919) % 251);
    Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]).copy(bytes, 0);
    await writeFile(file, bytes);
    for (const to of ['onnx', 'tfjs']) {
      const run = await runCli(['convert', file, '--to', to]);
      expect(run.stderr).not.toContain('HDF5-DIAG');
      expect(run.stderr.trim().split('\n').length, run.stderr).toBeLessThanOrEqual(3);
      expect(run.code).toBe(3);
      expect(run.stderr).toMatch(/libhdf5 could not open .*garbage\.h5/);
    }
  });

  it('an error from below Graft exits 4 with one line; --verbose adds the details; usage errors exit 2', async () => {
    const run = await runCli(['inspect', join(root, 'garbage.h5', 'x')]);
    expect(run.code).toBe(2); // a missing dataset is the user's input: 2
    // The disk fails under Graft (every readdir an EIO, preloaded): node's error, not a GraftError.
    const failingDisk = ['--import', pathToFileURL(join(repoRoot, 'test/fixtures/failing-disk.mjs')).href];
    const internal = await runCli(['inspect', root], {}, failingDisk);
    expect(internal.code).toBe(4);
    expect(internal.stderr.trim().split('\n').filter((l) => l.startsWith('error:'))).toEqual([expect.stringMatching(/^error: EIO.*\(internal error; run with --verbose for details\)$/)]);
    expect(internal.stderr).not.toMatch(/^\s+at /m);
    const verbose = await runCli(['inspect', root, '--verbose'], {}, failingDisk);
    expect(verbose.code).toBe(4);
    expect(verbose.stderr).toMatch(/^\s+at /m);
    const json = await runCli(['inspect', root, '--json'], {}, failingDisk);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: 'INTERNAL' } });
    expect((await runCli(['train', '--no-such-flag'])).code).toBe(2);
  });
});
