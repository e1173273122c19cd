import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ShardRows } from '../../src/features/shard-rows.js';
import { openShardSet } from '../../src/features/shard-set.js';
import { ShardStore } from '../../src/features/shard-store.js';
import { expandArgs, findKind, readManifest, type Container } from './k8s-manifests.js';
import { copySubset, hasShared, int8FeatModel, int8Model, parseJsonOutput, repoRoot, runCli, sharedDir, skipReason, tempDir } from '../support.js';

const flowers = join(sharedDir, 'datasets/flowers12');

interface ShardJson {
  shard: { index: number; count: number };
  images: number;
  computed: number;
  cached: number;
  resumed_from: 'complete' | 'partial' | null;
  published: boolean;
  skipped: unknown[];
}

/** Starts the built CLI as a pod would run it: the manifest's argv and JOB_COMPLETION_INDEX. */
function startPod(args: string[], index: number, cacheDir: string): { child: ChildProcess; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, [join(repoRoot, 'bin/graft.js'), ...args], {
    env: { ...process.env, JOB_COMPLETION_INDEX: String(index), GRAFT_CACHE_DIR: cacheDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, done };
}

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.skipIf(!hasShared)('the embed Indexed Job, simulated on one machine (issue 10 acceptance)', () => {
  skipReason('the Indexed Job simulation');

  it('4 pods (one killed with kill -9 and restarted) give the features of one process, and train the same weights', async () => {
    const root = await tempDir('graft-job-');
    const cacheDir = join(root, 'cache');
    const store = join(root, 'features');
    const job = findKind(readManifest('embed-job.yaml'), 'Job');
    const container = job.spec.template.spec.containers[0] as Container;
    const args = expandArgs(container, { GRAFT_DATASET: flowers, GRAFT_STORE: store, GRAFT_BACKBONE: int8Model, GRAFT_WORK_DIR: root });
    expect(args.slice(0, 1)).toEqual(['embed']);
    const count = job.spec.completions as number;
    expect(count).toBe(4);

    // All four pods at once; pod 1 is killed as soon as it has published a checkpoint.
    const pods = Array.from({ length: count }, (_, i) => startPod(args, i, cacheDir));
    const partial = join(store, 'shard-00001-of-00004.partial.sqlite');
    await waitFor(() => existsSync(partial), 90_000, `${partial} (pod 1 finished before its first checkpoint?)`);
    pods[1]!.child.kill('SIGKILL');
    const killed = await pods[1]!.done;
    expect(killed.signal).toBe('SIGKILL');
    expect(existsSync(join(store, 'shard-00001-of-00004.sqlite'))).toBe(false);
    const checkpoint = ShardStore.openForReading(partial);
    const saved = checkpoint.counts();
    checkpoint.close();
    expect(saved.rows).toBeGreaterThan(0);

    const others = await Promise.all([0, 2, 3].map((i) => pods[i]!.done));
    for (const run of others) expect(run.code, run.stderr).toBe(0);

    // Restarted (as backoffLimitPerIndex does): it resumes from the checkpoint and computes only the rest.
    const restarted = await startPod(args, 1, cacheDir).done;
    expect(restarted.code, restarted.stderr).toBe(0);
    const resumed = JSON.parse(restarted.stdout) as ShardJson;
    expect(resumed.resumed_from).toBe('partial');
    expect(resumed.cached).toBeGreaterThanOrEqual(saved.rows);
    expect(resumed.computed).toBe(resumed.images - resumed.cached - resumed.skipped.length);
    expect(resumed.computed).toBeLessThan(resumed.images);
    expect(existsSync(partial)).toBe(false);

    // A rerun of a finished index is a no-op: nothing computed, nothing published.
    const again = JSON.parse((await startPod(args, 2, cacheDir).done).stdout) as ShardJson;
    expect(again).toMatchObject({ computed: 0, resumed_from: 'complete', published: false });

    // Bit-identical to one process embedding the whole dataset.
    const single = join(root, 'single');
    const one = await runCli(['embed', flowers, '--store', single, '--backbone', int8Model, '--json'], { GRAFT_CACHE_DIR: cacheDir });
    expect(parseJsonOutput<ShardJson>(one).shard).toEqual({ index: 0, count: 1 });
    const [sharded, whole] = [openShardSet(store), openShardSet(single)];
    try {
      const [a, b] = [new ShardRows(sharded), new ShardRows(whole)];
      expect(a.count).toBe(960);
      expect(b.count).toBe(a.count);
      const files = (rows: ShardRows): string[] => {
        const out: string[] = [];
        rows.forEachFile((f) => out.push(`${f.path} ${f.sha256}`));
        return out;
      };
      expect(files(a)).toEqual(files(b));
      const blocks: Buffer[] = [];
      // Blocks are only valid during the call: keep copies.
      a.forEachBlock((block) => blocks.push(Buffer.from(new Uint8Array(block.data.slice().buffer))), 100);
      let offset = 0;
      b.forEachBlock((block) => {
        expect(Buffer.compare(Buffer.from(block.data.buffer, block.data.byteOffset, block.data.byteLength), blocks[offset++]!)).toBe(0);
      }, 100);
    } finally {
      sharded.close();
      whole.close();
    }

    // graft train over the store dir (the command of k8s/train-job.yaml) equals a single-process graft train on the
    // folder, weight for weight.
    const trainContainer = findKind(readManifest('train-job.yaml'), 'Job').spec.template.spec.containers[0] as Container;
    const trainArgs = expandArgs(trainContainer, { GRAFT_STORE: store, GRAFT_MODEL: join(root, 'model-shards'), GRAFT_WORK_DIR: root });
    const fromShards = await runCli(trainArgs, { GRAFT_CACHE_DIR: cacheDir });
    expect(fromShards.code, fromShards.stderr).toBe(0);
    // A store holds one view per image: the folder run without mirror images trains on the same rows.
    const fromFolder = await runCli(['train', flowers, '--backbone', int8Model, '--mirror', 'off', '--tta', 'off', '--out', join(root, 'model-folder'), '--json'], { GRAFT_CACHE_DIR: cacheDir });
    expect(fromFolder.code, fromFolder.stderr).toBe(0);
    const [w1, w2] = await Promise.all([readFile(join(root, 'model-shards/head.bin')), readFile(join(root, 'model-folder/head.bin'))]);
    expect(w1.length).toBeGreaterThan(1280 * 12 * 4);
    expect(w1.equals(w2)).toBe(true);
    const [r1, r2] = [parseJsonOutput<{ val: { accuracy: number }; images: { train: number; val: number } }>(fromShards), parseJsonOutput<{ val: { accuracy: number }; images: { train: number; val: number } }>(fromFolder)];
    expect(r1.images).toMatchObject({ train: r2.images.train, val: r2.images.val });
    expect(r1.val.accuracy).toBe(r2.val.accuracy);
    expect(r1.val.accuracy).toBeGreaterThan(0.9);

    // A shard made with another model is refused, naming the file, for both a restart and training.
    const mixed = await runCli(['embed', flowers, '--store', store, '--shard', '2/4', '--backbone', int8FeatModel, '--scale', 'imagenet', '--json'], { GRAFT_CACHE_DIR: cacheDir });
    expect(mixed.code).toBe(2);
    expect(parseJsonOutput<{ error: { message: string } }>(mixed).error.message).toMatch(/shard-00002-of-00004\.sqlite was made with backbone/);

    // A missing shard stops training with the command that makes it.
    await rm(join(store, 'shard-00003-of-00004.sqlite'));
    const incomplete = await runCli(['train', '--store', store, '--out', join(root, 'model-x'), '--json'], { GRAFT_CACHE_DIR: cacheDir });
    expect(incomplete.code).toBe(2);
    const error = parseJsonOutput<{ error: { message: string; hint: string } }>(incomplete).error;
    expect(error.message).toMatch(/shard 3 of 4 is not complete/);
    expect(error.hint).toContain(`--store ${store} --shard 3/4`);
  }, 600_000);

  it('a dataset without a val folder: shards split at training time exactly as graft train splits the folder', async () => {
    const root = await tempDir('graft-job-split-');
    const env = { GRAFT_CACHE_DIR: join(root, 'cache') };
    // 40 real images a class split and shard as the whole folder does, at a third of its embedding time.
    const data = await copySubset(join(sharedDir, 'datasets/hymenoptera/train'), join(root, 'data'), 40);
    const store = join(root, 'features');
    for (const shard of ['0/3', '1/3', '2/3']) {
      const run = await runCli(['embed', data, '--store', store, '--shard', shard, '--backbone', int8Model, '--json'], env);
      expect(run.code, run.stderr).toBe(0);
    }
    const a = await runCli(['train', '--store', store, '--val-split', '0.2', '--out', join(root, 'a'), '--seed', '7', '--json'], env);
    const b = await runCli(['train', data, '--backbone', int8Model, '--mirror', 'off', '--tta', 'off', '--val-split', '0.2', '--out', join(root, 'b'), '--seed', '7', '--json'], env);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(parseJsonOutput<{ images: { val: number } }>(a).images.val).toBe(parseJsonOutput<{ images: { val: number } }>(b).images.val);
    const [w1, w2] = await Promise.all([readFile(join(root, 'a/head.bin')), readFile(join(root, 'b/head.bin'))]);
    expect(w1.equals(w2)).toBe(true);
  }, 300_000);

  it('a dataset with a val folder and --val-split: the split is drawn from train/ alone, as graft train does (the store refused it)', async () => {
    const root = await tempDir('graft-job-split-val-');
    const env = { GRAFT_CACHE_DIR: join(root, 'cache') };
    const data = join(root, 'data');
    await copySubset(join(sharedDir, 'datasets/hymenoptera/train'), join(data, 'train'), 15);
    await copySubset(join(sharedDir, 'datasets/hymenoptera/val'), join(data, 'val'), 4);
    const store = join(root, 'features');
    const embedded = await runCli(['embed', data, '--store', store, '--backbone', int8Model, '--json'], env);
    expect(embedded.code, embedded.stderr).toBe(0);
    const a = await runCli(['train', '--store', store, '--val-split', '0.2', '--out', join(root, 'a'), '--json'], env);
    const b = await runCli(['train', data, '--backbone', int8Model, '--mirror', 'off', '--tta', 'off', '--val-split', '0.2', '--out', join(root, 'b'), '--json'], env);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const images = (run: typeof a) => parseJsonOutput<{ images: { train: number; val: number } }>(run).images;
    expect(images(a)).toMatchObject({ train: 24, val: 6 });
    expect(images(a)).toMatchObject(images(b));
    const [w1, w2] = await Promise.all([readFile(join(root, 'a/head.bin')), readFile(join(root, 'b/head.bin'))]);
    expect(w1.equals(w2)).toBe(true);
  }, 300_000);
});
