import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { copySubset, hasShared, hymenoptera, int8Model, parseJsonOutput, repoRoot, runCli, sharedDir, skipReason, tempDir } from '../support.js';

interface ShardJson {
  images: number;
  computed: number;
  cached: number;
  removed: number;
  published: boolean;
  resumed_from: string | null;
  skipped: { file: string; reason: string }[];
}

describe.skipIf(!hasShared)('graft embed --store: reruns after the dataset changes', () => {
  skipReason('the shard rerun tests');

  it('keeps what is unchanged, drops what left, records unreadable files, and a stale shard stops training', async () => {
    const root = await tempDir('graft-shard-rerun-');
    const env = { GRAFT_CACHE_DIR: join(root, 'cache') };
    const data = await copySubset(join(hymenoptera, 'train'), join(root, 'data'), 8);
    await writeFile(join(data, 'ants', 'broken.jpg'), 'not a jpeg');
    const store = join(root, 'store');
    const embed = async (shard: string): Promise<ShardJson> => {
      const run = await runCli(['embed', data, '--store', store, '--shard', shard, '--backbone', int8Model, '--json'], env);
      expect(run.code, run.stderr).toBe(0);
      return parseJsonOutput<ShardJson>(run);
    };
    const first = [await embed('0/2'), await embed('1/2')];
    expect(first[0]!.images + first[1]!.images).toBe(17);
    const broken = first.find((r) => r.skipped.length > 0)!;
    expect(broken.skipped[0]).toMatchObject({ file: join(data, 'ants', 'broken.jpg') });
    expect(broken.computed).toBe(broken.images - 1);

    // Unchanged: nothing computed, nothing published, the broken file not retried.
    const again = await embed(first.indexOf(broken) === 0 ? '0/2' : '1/2');
    expect(again).toMatchObject({ computed: 0, cached: broken.images - 1, published: false, resumed_from: 'complete' });
    expect(again.skipped.length).toBe(1);

    // An image removed from the dataset: its shard drops the row when rerun; until the other shard is rerun too, the
    // store's shards disagree on the listing and training refuses.
    await rm(join(data, 'ants', 'broken.jpg'));
    const rerun = await embed(first.indexOf(broken) === 0 ? '0/2' : '1/2');
    expect(rerun).toMatchObject({ computed: 0, removed: 1, published: true });
    const refused = await runCli(['train', '--store', store, '--out', join(root, 'model'), '--json'], env);
    expect(refused.code).toBe(2);
    expect(parseJsonOutput<{ error: { message: string } }>(refused).error.message).toMatch(/another listing of the dataset/);
    const other = await embed(first.indexOf(broken) === 0 ? '1/2' : '0/2');
    expect(other).toMatchObject({ computed: 0, published: true });
    const trained = await runCli(['train', '--store', store, '--val-split', '0.25', '--out', join(root, 'model'), '--json'], env);
    expect(trained.code, trained.stderr).toBe(0);
    expect(parseJsonOutput<{ images: { train: number; val: number } }>(trained).images).toMatchObject({ train: 12, val: 4 });
    // Its report cannot draw held-out images again from a store (it read the store as a folder of classes: exit 2), and says so.
    const reported = await runCli(['report', join(root, 'model'), '--out', join(root, 'report.html'), '--json'], env);
    expect(reported.code, reported.stderr).toBe(0);
    expect(parseJsonOutput<{ dataset: string | null; notScored?: string }>(reported)).toMatchObject({ dataset: null, notScored: expect.stringContaining(`trained from the feature store ${store}`) });

    // Flags that need each other, and a shard index out of range, fail before any work with exit code 2.
    const noStore = await runCli(['embed', data, '--shard', '0/2', '--json'], env);
    expect(noStore.code).toBe(2);
    expect(parseJsonOutput<{ error: { message: string } }>(noStore).error.message).toMatch(/--shard 0\/2 needs --store/);
    const auto = await runCli(['embed', data, '--store', store, '--shard', 'auto', '--json'], { ...env, JOB_COMPLETION_INDEX: '5', GRAFT_SHARD_COUNT: '2' });
    expect(auto.code).toBe(2);
    expect(parseJsonOutput<{ error: { message: string } }>(auto).error.message).toMatch(/JOB_COMPLETION_INDEX=5/);
    const countWithoutAuto = await runCli(['embed', data, '--store', store, '--shard-count', '4', '--json'], { ...env, JOB_COMPLETION_INDEX: '1' });
    expect(countWithoutAuto.code).toBe(2);
    expect(parseJsonOutput<{ error: { message: string } }>(countWithoutAuto).error.message).toMatch(/--shard-count goes with --shard auto/);
    // The store holds shards of 2: a shard of 3 there could never be trained with them.
    const otherCount = await runCli(['embed', data, '--store', store, '--shard', '0/3', '--backbone', int8Model, '--json'], env);
    expect(otherCount.code).toBe(2);
    expect(parseJsonOutput<{ error: { message: string } }>(otherCount).error.message).toMatch(/holds shards of 2, and this is shard 0\/3/);

    // A published shard damaged on disk: the rerun names that file (not its local copy, gone by then) and what to do.
    const damaged = join(store, 'shard-00001-of-00002.sqlite');
    await writeFile(damaged, 'x'.repeat(5000));
    const rerunDamaged = await runCli(['embed', data, '--store', store, '--shard', '1/2', '--backbone', int8Model, '--json'], env);
    expect(rerunDamaged.code).toBe(2);
    const { error } = parseJsonOutput<{ error: { message: string; hint: string } }>(rerunDamaged);
    expect(error.message).toContain(`${damaged} is damaged`);
    expect(error.hint).toBe(`delete ${damaged} and run this shard again`);

    // A store embedded at one scale trains without repeating --no-multi-scale; mirror rows or TTA, which a store
    // cannot give, are refused rather than silently left out.
    const oneScale = join(root, 'one-scale');
    const embedded = await runCli(['embed', data, '--store', oneScale, '--backbone', int8Model, '--no-multi-scale', '--json'], env);
    expect(embedded.code, embedded.stderr).toBe(0);
    // Through --features, the old spelling of --store: scripts written for it still train, and are told the new name.
    const fromOne = await runCli(['train', '--features', oneScale, '--val-split', '0.25', '--out', join(root, 'one-scale-model'), '--json'], env);
    expect(fromOne.code, fromOne.stderr).toBe(0);
    expect(fromOne.stderr).toContain('warning: --features is now --store (the old name still works)');
    const recorded = JSON.parse(await readFile(join(root, 'one-scale-model', 'graft.json'), 'utf8')) as { backbone: { featureDim: number } };
    expect(recorded.backbone.featureDim).toBe(1280);
    const mirrored = await runCli(['train', '--store', oneScale, '--mirror', 'on', '--out', join(root, 'mirror-model'), '--json'], env);
    expect(mirrored.code).toBe(2);
    expect(parseJsonOutput<{ error: { message: string } }>(mirrored).error.message).toMatch(/^mirror: 'on' \(--mirror on\) cannot be used with features \(--store\)/);
  }, 180_000);
});

describe.skipIf(!hasShared)('graft train --store when the dataset changed between shards', () => {
  it('names the odd shards out (both groups in a tie) and a hint that, followed, makes the store whole', async () => {
    const root = await tempDir('graft-shard-listings-');
    const env = { GRAFT_CACHE_DIR: join(root, 'cache') };
    const data = await copySubset(join(hymenoptera, 'train'), join(root, 'data'), 6);
    const [three, four] = [join(root, 'three'), join(root, 'four')];
    const embed = async (store: string, shard: string): Promise<ShardJson> => {
      const run = await runCli(['embed', data, '--store', store, '--shard', shard, '--backbone', int8Model, '--json'], env);
      expect(run.code, run.stderr).toBe(0);
      return parseJsonOutput<ShardJson>(run);
    };
    const refusal = async (store: string): Promise<{ message: string; hint: string }> => {
      const run = await runCli(['train', '--store', store, '--out', join(root, 'model'), '--json'], env);
      expect(run.code, run.stderr).toBe(2);
      return parseJsonOutput<{ error: { message: string; hint: string } }>(run).error;
    };
    const isComplete = async (store: string): Promise<boolean> => parseJsonOutput<{ complete: boolean }>(await runCli(['features', 'status', store, '--json'], env)).complete;
    // Shard 0 of 3, and shards 0 and 1 of 4, are embedded before images are added; the rest after.
    await embed(three, '0/3');
    await embed(four, '0/4');
    await embed(four, '1/4');
    await copySubset(join(hymenoptera, 'train'), data, 7);
    for (const shard of ['1/3', '2/3']) await embed(three, shard);
    for (const shard of ['2/4', '3/4']) await embed(four, shard);

    // Two shards of three agree: the stale one is named (not the two made from the dataset as it is now), and its
    // rerun, as the hint says, recomputes it.
    const odd = await refusal(three);
    expect(odd.message).toContain(`${join(three, 'shard-00000-of-00003.sqlite')} was made with another listing of the dataset (12 images instead of 14`);
    expect(odd.message).toContain(`unlike shards 1, 2 in ${three}`);
    expect(odd.message).not.toContain('shard-00001-of-00003.sqlite');
    expect(odd.hint).toBe(`run graft embed ${data} --store ${three} --shard 0/3 (with the same --backbone) to recompute it from the dataset as it is now`);
    expect(await embed(three, '0/3')).toMatchObject({ published: true });
    expect(await isComplete(three)).toBe(true);

    // Two shards each way: which listing is current cannot be told; both groups are named, and rerunning every shard
    // recomputes the stale ones and leaves the current ones as they are.
    const tie = await refusal(four);
    expect(tie.message).toContain('which is current cannot be told');
    expect(tie.message).toContain(`shards 2, 3 in ${four} were made with another listing of the dataset (14 images instead of 12`);
    expect(tie.message).toContain(`unlike shards 0, 1 in ${four}`);
    expect(tie.hint).toContain(`run graft embed ${data} --store ${four} --shard <i>/4 for each of shards 0, 1, 2, 3`);
    const reruns = [];
    for (const shard of ['0/4', '1/4', '2/4', '3/4']) reruns.push(await embed(four, shard));
    expect(reruns.map((r) => r.published)).toEqual([true, true, false, false]);
    expect(await isComplete(four)).toBe(true);
  }, 180_000);
});

describe.skipIf(!hasShared)('graft embed stopped by SIGTERM (a Kubernetes pod stopped)', () => {
  it('publishes what it computed as the checkpoint, removes its working copy, exits 143 (SIGTERM); the rerun resumes', async () => {
    const root = await tempDir('graft-embed-term-');
    const env = { ...process.env, GRAFT_CACHE_DIR: join(root, 'cache') };
    const data = join(root, 'data');
    const [store, work] = [join(root, 'store'), join(root, 'work')];
    // A store published once, then the dataset grew: the interrupted rerun's checkpoint holds more than the shard.
    await copySubset(join(hymenoptera, 'train'), data, 5);
    const first = await runCli(['embed', data, '--store', store, '--shard', '0/1', '--backbone', int8Model, '--json'], { GRAFT_CACHE_DIR: join(root, 'cache-first') });
    expect(first.code, first.stderr).toBe(0);
    await copySubset(join(hymenoptera, 'train'), data, 60);
    await mkdir(work);
    const args = [join(repoRoot, 'bin/graft.js'), 'embed', data, '--store', store, '--shard', '0/1', '--backbone', int8Model, '--work-dir', work, '--batch-size', '4'];
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    // Once some images are embedded (the piped progress prints a line per batch).
    const deadline = Date.now() + 60_000;
    while (!/\b([1-9]\d*) computed/.test(stderr) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGTERM');
    expect(await exited, stderr).toBe(143);
    const kept = /Stopped shard 0\/1: its (\d+) vectors so far are published/.exec(stderr);
    expect(kept, stderr).not.toBeNull();
    expect(Number(kept![1])).toBeGreaterThan(10);
    expect(existsSync(join(store, 'shard-00000-of-00001.partial.sqlite'))).toBe(true);
    expect(readdirSync(work)).toEqual([]);
    // A fresh cache: every vector the rerun does not compute comes from the checkpoint (it started again from the
    // published shard's 10, though the checkpoint was newer).
    const rerun = await runCli(['embed', data, '--store', store, '--shard', '0/1', '--backbone', int8Model, '--json'], { GRAFT_CACHE_DIR: join(root, 'cache-rerun') });
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(parseJsonOutput<{ resumed_from: string; cached: number }>(rerun)).toMatchObject({ resumed_from: 'partial', cached: Number(kept![1]) });
    expect(existsSync(join(store, 'shard-00000-of-00001.partial.sqlite'))).toBe(false);
  }, 180_000);
});

describe.skipIf(!hasShared)('graft train --store when the backbone moved', () => {
  it('a --work-dir that does not exist is a usage error (exit 2) naming it, not an internal one', async () => {
    const root = await tempDir('graft-embed-workdir-');
    const data = await copySubset(join(hymenoptera, 'train'), join(root, 'data'), 3);
    const missing = join(root, 'no-such-folder');
    const run = await runCli(['embed', data, '--store', join(root, 'store'), '--backbone', int8Model, '--work-dir', missing, '--json'], { GRAFT_CACHE_DIR: join(root, 'cache') });
    expect(run.code, run.stderr).toBe(2);
    const { error } = parseJsonOutput<{ error: { code: string; message: string; hint: string } }>(run);
    expect(error).toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringContaining(missing), hint: expect.stringContaining('--work-dir') });
  });

  it('says which model the store was made with and that --backbone finds it again', async () => {
    const root = await tempDir('graft-shard-moved-');
    const env = { GRAFT_CACHE_DIR: join(root, 'cache') };
    const data = await copySubset(join(hymenoptera, 'train'), join(root, 'data'), 4);
    const { copyFile, rename } = await import('node:fs/promises');
    const backbone = join(root, 'backbone.onnx');
    await copyFile(int8Model, backbone);
    const store = join(root, 'store');
    const embed = await runCli(['embed', data, '--store', store, '--shard', '0/1', '--backbone', backbone, '--json'], env);
    expect(embed.code, embed.stderr).toBe(0);
    const moved = join(root, 'models-moved.onnx');
    await rename(backbone, moved);
    const lost = await runCli(['train', '--store', store, '--out', join(root, 'm'), '--json'], env);
    expect(lost.code).toBe(3);
    const { error } = parseJsonOutput<{ error: { code: string; message: string; hint: string } }>(lost);
    expect(error.message).toContain(`the backbone ${store} was made with`);
    expect(error.hint).toMatch(/pass backbone \(--backbone\) with where that model is now/);
    const found = await runCli(['train', '--store', store, '--backbone', moved, '--out', join(root, 'm'), '--json'], env);
    expect(found.code, found.stderr).toBe(0);
  });

  it('trains from a store of a backbone Graft does not know without --scale again: the store recorded it', async () => {
    const root = await tempDir('graft-shard-scale-');
    const env = { GRAFT_CACHE_DIR: join(root, 'cache') };
    const data = await copySubset(join(hymenoptera, 'train'), join(root, 'data'), 4);
    const v3small = join(sharedDir, 'models/mobilenetv3-small-onnx/mobilenetv3-small-feat.onnx');
    const store = join(root, 'store');
    const embed = await runCli(['embed', data, '--store', store, '--backbone', v3small, '--scale', 'imagenet', '--json'], env);
    expect(embed.code, embed.stderr).toBe(0);
    // Before: UNKNOWN_PREPROCESSING, "pass --scale", though --help says the backbone defaults to the store's.
    const trained = await runCli(['train', '--store', store, '--out', join(root, 'm'), '--json'], env);
    expect(trained.code, trained.stderr).toBe(0);
    expect(JSON.parse(await readFile(join(root, 'm', 'graft.json'), 'utf8')).preprocessing.scale).toBe('imagenet');
  });
});

describe.skipIf(!hasShared)('graft train --store with a class none of whose images could be read', () => {
  it('refuses it as training from the folder does, in memory and streamed, instead of a model with an untaught class', async () => {
    const root = await tempDir('graft-store-empty-class-');
    const data = await copySubset(join(hymenoptera, 'train'), join(root, 'data'), 4);
    await mkdir(join(data, 'wasps'));
    for (const name of ['1.jpg', '2.jpg']) await writeFile(join(data, 'wasps', name), '');
    const store = join(root, 'store');
    const embedded = await runCli(['embed', data, '--store', store, '--backbone', int8Model, '--json'], { GRAFT_CACHE_DIR: join(root, 'cache') });
    expect(embedded.code, embedded.stderr).toBe(0);
    const { trainFromFeatures } = await import('../../src/recipes/train-from-features.js');
    for (const inMemoryRows of [undefined, 2]) {
      const out = join(root, `model-${inMemoryRows ?? 'all'}`);
      const training = trainFromFeatures({ features: store, out, cacheDir: join(root, 'cache'), config: { c: 0.1 }, workDir: root, ...(inMemoryRows ? { inMemoryRows } : {}) });
      await expect(training).rejects.toMatchObject({ code: 'INVALID_DATASET', message: `No training row of class "wasps" in the store ${store}: its images could not be read, or none is in the training part` });
      expect(existsSync(out)).toBe(false);
    }
  }, 120_000);
});

describe.skipIf(!hasShared)('a store embedded from a manifest, one shard missing', () => {
  it("names the manifest in the command that finishes it, not the manifest's folder (which lists other images)", async () => {
    const root = await tempDir('graft-store-manifest-');
    const data = await copySubset(join(hymenoptera, 'train'), join(root, 'data'), 3);
    const manifest = join(data, 'list.csv');
    const rows = ['path,label', ...['ants', 'bees'].flatMap((label) => readdirSync(join(data, label)).map((file) => `${label}/${file},${label}`))];
    await writeFile(manifest, `${rows.join('\n')}\n`);
    const store = join(root, 'store');
    const env = { GRAFT_CACHE_DIR: join(root, 'cache') };
    const first = await runCli(['embed', manifest, '--store', store, '--shard', '0/2', '--backbone', int8Model, '--json'], env);
    expect(first.code, first.stderr).toBe(0);
    const training = await runCli(['train', '--store', store, '--out', join(root, 'model'), '--json'], env);
    expect(training.code).toBe(2);
    expect(parseJsonOutput<{ error: { hint: string } }>(training).error.hint).toContain(`run graft embed ${manifest} --store ${store} --shard 1/2`);
    const status = await runCli(['features', 'status', store, '--json'], env);
    expect(parseJsonOutput<{ dataset: string }>(status).dataset).toBe(manifest);
  }, 120_000);
});
