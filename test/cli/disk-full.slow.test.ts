import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preprocessingHash } from '../../src/core/preprocessing.js';
import { backboneFromOptions } from '../../src/engine/open-backbone.js';
import { PARQUET_ROWS_PER_GROUP } from '../../src/features/export-parquet.js';
import { writeSyntheticShards } from '../../src/features/synthetic-shards.js';
import { DashboardStore } from '../../src/serve/dashboard/dashboard-store.js';
import { RunQueue, type RunEvent } from '../../src/serve/dashboard/run-queue.js';
import { copySubset, hasShared, hymenoptera, int8Model, parseJsonOutput, runCli, skipReason, tempDir } from '../support.js';

/** Mounts a RAM disk of `size` on `dir` (root on Linux can; elsewhere the suite is skipped, saying why). */
function mountSmallDisk(dir: string, size: string): void {
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
}

/** Whether this process may mount a small disk, tried once on a scratch folder. */
const canMount = ((): boolean => {
  if (process.platform !== 'linux') return false;
  const probe = mkdtempSync(join(tmpdir(), 'graft-mount-probe-'));
  try {
    mountSmallDisk(probe, '64k');
    execFileSync('umount', [probe]);
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
})();
if (!canMount) console.warn('skipping the full-disk tests: this process cannot mount a tmpfs (root on Linux can)');

skipReason('full-disk tests');
describe.skipIf(!hasShared || !canMount)('a full disk: the cache gives way, an output (CLI or dashboard run) fails clearly and leaves nothing behind', () => {
  let root: string;
  let data: string;
  const mounted: string[] = [];

  beforeAll(async () => {
    root = await tempDir();
    data = await copySubset(join(hymenoptera, 'train'), join(root, 'data'), 8);
    for (const [name, size] of [['cache-disk', '128k'], ['full-disk', '64k'], ['out-disk', '1m'], ['runs-disk', '1m'], ['export-disk', '32k'], ['work-disk', '32k']] as const) {
      const dir = join(root, name);
      await (await import('node:fs/promises')).mkdir(dir);
      mountSmallDisk(dir, size);
      mounted.push(dir);
    }
  });
  afterAll(() => {
    for (const dir of mounted) execFileSync('umount', [dir]);
    rmSync(root, { recursive: true, force: true });
  });

  it('a feature cache on a full disk: one CACHE_FULL warning, and training goes on to write the model; graft embed fails', async () => {
    const run = await runCli(['train', data, '--backbone', int8Model, '--out', join(root, 'model'), '--json'], { GRAFT_CACHE_DIR: join(root, 'cache-disk', 'cache') });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr.match(/is full/g)).toHaveLength(1);
    expect(run.stderr).toContain(`The disk holding the cache ${join(root, 'cache-disk', 'cache')} is full: this run goes on without caching`);
    expect(parseJsonOutput<{ images: { train: number } }>(run).images.train).toBe(16);
    expect(existsSync(join(root, 'model', 'model.onnx'))).toBe(true);
    // graft embed, whose output the cache is, fails instead, saying the disk is full.
    const embed = await runCli(['embed', data, '--backbone', int8Model, '--json'], { GRAFT_CACHE_DIR: join(root, 'cache-disk', 'cache') });
    expect(embed.code, embed.stderr).toBe(4);
    // The features' database or the file index beside it, whichever SQLite found no room for; named either way.
    const cacheFile = (name: string) => join(root, 'cache-disk', 'cache', name).replace(/[.]/g, '\\.');
    expect(parseJsonOutput<{ error: { code: string; message: string } }>(embed).error).toEqual({
      code: 'DISK_FULL',
      message: expect.stringMatching(new RegExp(`^The disk is full: Cannot write to the (feature cache ${cacheFile('features-v1.sqlite')}|file index ${cacheFile('files-v1.sqlite')}): database or disk is full$`)),
      hint: expect.stringMatching(/^free space on that disk/),
    });
  });

  it('a cache disk already full when training starts: the same one warning, and the model is written', async () => {
    // Filled to the last byte before the run (the write stops with ENOSPC): the cache's files cannot even be made.
    await writeFile(join(root, 'full-disk', 'filler'), Buffer.alloc(64 * 1024)).catch(() => undefined);
    const run = await runCli(['train', data, '--backbone', int8Model, '--out', join(root, 'model-2'), '--json'], { GRAFT_CACHE_DIR: join(root, 'full-disk', 'cache') });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr.match(/is full/g)).toHaveLength(1);
    expect(parseJsonOutput<{ images: { train: number } }>(run).images.train).toBe(16);
    expect(existsSync(join(root, 'model-2', 'model.onnx'))).toBe(true);
  });

  it('a model folder on a full disk: DISK_FULL naming the file as the user named the folder, exit 4, nothing left there', async () => {
    await writeFile(join(root, 'out-disk', 'notes.txt'), 'mine\n');
    const env = { GRAFT_CACHE_DIR: join(root, 'cache') };
    const run = await runCli(['train', data, '--backbone', int8Model, '--out', join(root, 'out-disk', 'model'), '--json'], env);
    expect(run.code, run.stderr).toBe(4);
    const { error } = parseJsonOutput<{ error: { code: string; message: string; hint: string } }>(run);
    expect(error.code).toBe('DISK_FULL');
    expect(error.message).toBe(`The disk is full: Cannot write ${join(root, 'out-disk', 'model', 'model.onnx')}: ENOSPC: no space left on device, write`);
    expect(error.hint).toMatch(/^free space on that disk, or write elsewhere/);
    expect(run.stderr).not.toContain('internal error');
    expect(await readdir(join(root, 'out-disk'))).toEqual(['notes.txt']);
  });

  it('a Parquet export on a full disk: DISK_FULL, exit 4, no temporary file left (it was an internal error about a busy database)', async () => {
    const env = { GRAFT_CACHE_DIR: join(root, 'cache') };
    // Rows for several row groups: the disk fills while the shards are still being read.
    const { info } = await backboneFromOptions({ backbone: int8Model, cacheDir: join(root, 'cache') });
    const model = { name: info.name, source: info.source, sha256: info.sha256, featureDim: 64, preprocessing: info.preprocessing, preprocessingHash: preprocessingHash(info.preprocessing) };
    const store = join(root, 'store');
    await writeSyntheticShards(store, { rows: 12 * PARQUET_ROWS_PER_GROUP, shards: 2, classes: 3, model, seed: 1 });
    const run = await runCli(['features', 'export', store, '--out', join(root, 'export-disk', 'rows.parquet'), '--json'], env);
    expect(run.code, run.stderr).toBe(4);
    expect(parseJsonOutput<{ error: { code: string; message: string } }>(run).error).toMatchObject({ code: 'DISK_FULL', message: expect.stringContaining('no space left') });
    expect(await readdir(join(root, 'export-disk'))).toEqual([]);
  });

  it('train --store with a full --work-dir: DISK_FULL, exit 4, saying how much room the scratch copy needs (it was exit 2)', async () => {
    const env = { GRAFT_CACHE_DIR: join(root, 'cache') };
    const { info } = await backboneFromOptions({ backbone: int8Model, cacheDir: join(root, 'cache') });
    const model = { name: info.name, source: info.source, sha256: info.sha256, featureDim: info.featureDim, preprocessing: info.preprocessing, preprocessingHash: preprocessingHash(info.preprocessing) };
    const store = join(root, 'work-store');
    await writeSyntheticShards(store, { rows: 300, shards: 1, classes: 3, model, seed: 1 });
    const run = await runCli(['train', '--store', store, '--out', join(root, 'work-model'), '--no-multi-scale', '--in-memory-rows', '100', '--work-dir', join(root, 'work-disk'), '--json'], env);
    expect(run.code, run.stderr).toBe(4);
    const { error } = parseJsonOutput<{ error: { code: string; message: string; hint: string } }>(run);
    expect(error.code).toBe('DISK_FULL');
    expect(error.message).toMatch(new RegExp(`^The disk is full: Cannot write the local copy of the rows in ${join(root, 'work-disk')}/graft-rows-[\\w-]+ \\(ENOSPC: no space left on device, write; it needs 2 MB\\)$`));
    expect(error.hint).toMatch(/^free space on that disk, or write elsewhere \(another --out, --store or --work-dir;/);
    expect(await readdir(join(root, 'work-disk'))).toEqual([]);
  });

  it('a dashboard run whose model folder is on a full disk fails saying so, and the queue records why', async () => {
    const store = DashboardStore.open(join(root, 'dashboard'));
    try {
      const project = store.createProject('p', data);
      const run = store.createRun(project.id, { epochs: 1, hidden: 0, backbone: int8Model }, (id) => join(root, 'runs-disk', String(id), 'model'));
      const queue = new RunQueue({ store, dataDir: join(root, 'dashboard'), cacheDir: join(root, 'cache'), offline: true });
      const ended = new Promise<RunEvent>((resolve) => queue.listen(run.id, (event) => event.type === 'status' && event.status !== 'running' && resolve(event)));
      queue.enqueue(run.id);
      const event = await ended;
      await queue.close();
      const said = `The disk is full: Cannot write ${join(root, 'runs-disk', String(run.id), 'model', 'model.onnx')}: ENOSPC: no space left on device, write. Free space on it, then train again.`;
      expect(event).toEqual({ type: 'status', status: 'failed', error: said });
      expect(store.run(run.id)).toMatchObject({ status: 'failed', error: said });
    } finally {
      store.close();
    }
  });
});
