import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { copySubset, hasShared, hymenoptera, int8Model, repoRoot, runCli, skipReason, tempDir } from '../support.js';

/**
 * Ctrl+C and SIGTERM in the middle of long work (README "Exit codes", "Interrupting"): the built CLI as a user runs
 * it, a real signal, and what it leaves behind. Each process starts on an empty cache, so the signal lands mid-work.
 */
describe.skipIf(!hasShared)('interrupted work leaves nothing broken', () => {
  skipReason('the interrupt tests');
  let root: string;
  let data: string;
  beforeAll(async () => {
    root = await tempDir('graft-interrupt-');
    data = await copySubset(join(hymenoptera, 'train'), join(root, 'photos'), 10);
  });

  it('train on SIGTERM mid-extraction: exit 143, one line, --out as it was, the vectors kept; a rerun reads them', async () => {
    const cache = join(root, 'train-cache');
    // A model a previous run left at --out (graft.json marks it replaceable): it must come through untouched.
    const out = join(root, 'model');
    await mkdir(out);
    await writeFile(join(out, 'graft.json'), '{"earlier": true}');
    const child = graft(['train', data, '--backbone', int8Model, '--out', out], cache);
    await featuresStored(child, cache);
    const stopped = await stop(child, 'SIGTERM');
    expect(stopped.code).toBe(143);
    expect(stopped.ms).toBeLessThan(3000);
    const said = /error: Training was interrupted: (\S+) is as it was; the features of (\d+) images are in the feature cache\n  hint: run the same command again: it reads those features from the cache/.exec(stopped.stderr);
    expect(said, stopped.stderr).not.toBeNull();
    expect(said![1]).toBe(out);
    expect(await readdir(out)).toEqual(['graft.json']);
    expect(await readFile(join(out, 'graft.json'), 'utf8')).toBe('{"earlier": true}');
    // No staging folder or temporary file beside it.
    expect((await readdir(root)).filter((name) => name.startsWith('model'))).toEqual(['model']);

    const rerun = await runCli(['train', data, '--backbone', int8Model, '--out', out, '--json'], { GRAFT_CACHE_DIR: cache });
    expect(rerun.code, rerun.stderr).toBe(0);
    const result = JSON.parse(rerun.stdout) as { features: { cached: number; computed: number } };
    // Exactly what was said: the batch stored just before the signal counted too (it was one batch short).
    expect(result.features.cached).toBe(Number(said![2]));
    expect(result.features.cached + result.features.computed).toBe(20);
    expect(existsSync(join(out, 'model.onnx'))).toBe(true);
  });

  it('embed into the cache on Ctrl+C: exit 130, says what is kept; the cache opens and holds those vectors', async () => {
    const cache = join(root, 'embed-cache');
    const child = graft(['embed', data, '--backbone', int8Model], cache);
    await featuresStored(child, cache);
    const stopped = await stop(child, 'SIGINT');
    expect(stopped.code).toBe(130);
    expect(stopped.ms).toBeLessThan(3000);
    const said = /error: Stopped after \d+ of 20 images: the features of (\d+) are in the cache .*features-v1\.sqlite\n {2}hint: run the same command again/.exec(stopped.stderr);
    expect(said, stopped.stderr).not.toBeNull();
    expect(storedVectors(cache)).toBeGreaterThan(0);
  });

  it('convert on Ctrl+C while writing its output: exit 130, one line, the earlier output as it was, no working folder beside it', async () => {
    // An earlier TF.js folder at --out (model.json marks it replaceable): it must come through untouched.
    const out = join(root, 'converted');
    await mkdir(out);
    await writeFile(join(out, 'model.json'), '{"earlier": true}');
    const child = graft(['convert', int8Model, '--to', 'tfjs', '--out', out], join(root, 'convert-cache'));
    const working = await workingFolderBeside(child, out);
    const stopped = await stop(child, 'SIGINT');
    expect(stopped.code, stopped.stderr).toBe(130);
    expect(stopped.ms).toBeLessThan(3000);
    expect(stopped.stderr).toMatch(/error: graft convert was stopped \(SIGINT\): nothing half-written is left beside its output\n {2}hint: run the same command again\n$/);
    expect(existsSync(working)).toBe(false);
    // Before: the staging folder stayed until the next write to the same output.
    expect((await readdir(root)).filter((name) => name.startsWith('converted'))).toEqual(['converted']);
    expect(await readdir(out)).toEqual(['model.json']);
    expect(await readFile(join(out, 'model.json'), 'utf8')).toBe('{"earlier": true}');
  });

  it('graft ui on SIGTERM mid-run: exits 0 at once; the run is stored as interrupted, saying why, and its files are gone', async () => {
    const cache = join(root, 'ui-cache');
    const ui = join(root, 'ui');
    const child = graft(['ui', '--port', '0', '--host', '127.0.0.1', '--data-dir', ui, '--data-root', root, '--json'], cache, { GRAFT_MODELS_DIR: dirname(int8Model), GRAFT_TOKEN: 'interrupt-test-token' });
    const { url } = JSON.parse(await output(child, (text) => text.trim().endsWith('}'))) as { url: string };
    const call = async (path: string, body?: unknown): Promise<{ id: number; status: string }> => {
      const response = await fetch(`${url}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { authorization: 'Bearer interrupt-test-token', 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return (await response.json()) as { id: number; status: string };
    };
    const project = await call('/v1/projects', { name: 'photos', folder: data });
    const run = await call(`/v1/projects/${project.id}/runs`, {});
    await featuresStored(child, cache);
    expect((await call(`/v1/runs/${run.id}`)).status).toBe('running');
    const stopped = await stop(child, 'SIGTERM');
    expect(stopped.code).toBe(0);
    expect(stopped.ms).toBeLessThan(5000);
    // Read as stored, not through DashboardStore.open, which would mark a run left running as interrupted itself.
    const db = new Database(join(ui, 'dashboard.sqlite'), { readonly: true });
    try {
      expect(db.prepare('SELECT status, error FROM runs WHERE id = ?').get(run.id)).toEqual({ status: 'interrupted', error: expect.stringMatching(/^the server was stopped while this run was training: .*no model was written$/) });
    } finally {
      db.close();
    }
    expect(existsSync(join(ui, 'runs', String(run.id)))).toBe(false);
  });

  it('graft ui after kill -9 mid-run: the restart lists the run as interrupted and removes its folder, keeping every other', async () => {
    const cache = join(root, 'ui-kill-cache');
    const ui = join(root, 'ui-killed');
    const env = { GRAFT_MODELS_DIR: dirname(int8Model), GRAFT_TOKEN: 'interrupt-test-token' };
    const args = ['ui', '--port', '0', '--host', '127.0.0.1', '--data-dir', ui, '--data-root', root, '--json'];
    const child = graft(args, cache, env);
    const first = dashboardClient(JSON.parse(await output(child, (text) => text.trim().endsWith('}'))) as { url: string });
    const project = await first.call('/v1/projects', { name: 'photos', folder: data });
    const run = await first.call(`/v1/projects/${project.id}/runs`, {});
    await featuresStored(child, cache);
    expect((await first.call(`/v1/runs/${run.id}`)).status).toBe('running');
    const exited = new Promise((resolve) => child.on('close', resolve));
    child.kill('SIGKILL');
    await exited;
    const folder = join(ui, 'runs', String(run.id));
    expect(existsSync(folder), 'the killed server left its run folder').toBe(true);
    // Not the restart's to remove: a finished run's model, and a folder of the data folder no run recorded.
    await mkdir(join(ui, 'runs', '999', 'model'), { recursive: true });
    await writeFile(join(ui, 'runs', '999', 'model', 'graft.json'), '{}');

    const restarted = graft(args, cache, env);
    try {
      const second = dashboardClient(JSON.parse(await output(restarted, (text) => text.trim().endsWith('}'))) as { url: string });
      expect(await second.call(`/v1/runs/${run.id}`)).toMatchObject({ status: 'interrupted' });
      expect((await second.call(`/v1/projects/${project.id}`)).runs?.map((r) => [r.id, r.status])).toEqual([[run.id, 'interrupted']]);
      expect(existsSync(folder)).toBe(false);
      expect(existsSync(join(ui, 'runs', '999', 'model', 'graft.json'))).toBe(true);
      expect(existsSync(join(ui, 'dashboard.sqlite'))).toBe(true);
    } finally {
      await stop(restarted, 'SIGTERM');
    }
  });
});

/** The dashboard's API as a script calls it, with the test's token. */
function dashboardClient({ url }: { url: string }): { call: (path: string, body?: unknown) => Promise<{ id: number; status: string; runs?: { id: number; status: string }[] }> } {
  return {
    call: async (path, body) => {
      const response = await fetch(`${url}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { authorization: 'Bearer interrupt-test-token', 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return (await response.json()) as { id: number; status: string; runs?: { id: number; status: string }[] };
    },
  };
}

function graft(args: string[], cache: string, env: Record<string, string> = {}): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [join(repoRoot, 'bin/graft.js'), ...args], { env: { ...process.env, GRAFT_CACHE_DIR: cache, ...env } });
}

/** Resolves with stdout once `isDone` says it is complete (stderr in the error if the process ends first). */
function output(child: ChildProcessWithoutNullStreams, isDone: (stdout: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (isDone(stdout)) resolve(stdout);
    });
    child.on('exit', () => reject(new Error(`exited before it was ready:\n${stderr}`)));
  });
}

/** Vectors the feature cache holds (0 before it exists): read as another process would. */
function storedVectors(cache: string): number {
  const file = join(cache, 'features-v1.sqlite');
  if (!existsSync(file)) return 0;
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM features').get() as { n: number }).n;
  } catch {
    return 0; // the table is not created yet
  } finally {
    db.close();
  }
}

/** Waits until the process has stored its first vectors in the cache: the signal then lands with work both done and left. */
async function featuresStored(child: ChildProcessWithoutNullStreams, cache: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (storedVectors(cache) === 0) {
    if (child.exitCode !== null) throw new Error(`exited (${child.exitCode}) before storing a vector`);
    if (Date.now() > deadline) throw new Error('no vector stored in 60 s');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Waits until a working folder of the process's (`<out>.<kind>-<pid>-<hex>`) is beside `out`; returns its path. */
async function workingFolderBeside(child: ChildProcessWithoutNullStreams, out: string): Promise<string> {
  const deadline = Date.now() + 60_000;
  const mine = `${basename(out)}.`;
  for (;;) {
    const found = (await readdir(dirname(out))).find((name) => name.startsWith(mine) && name.includes(`-${child.pid}-`));
    if (found) return join(dirname(out), found);
    if (child.exitCode !== null) throw new Error(`exited (${child.exitCode}) before writing its output`);
    if (Date.now() > deadline) throw new Error(`no working folder beside ${out} in 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Sends `signal`; resolves with the exit code, the time it took to exit, and everything on stderr since. */
async function stop(child: ChildProcessWithoutNullStreams, signal: NodeJS.Signals): Promise<{ code: number | null; ms: number; stderr: string }> {
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const sent = Date.now();
  child.kill(signal);
  const timeout = new Promise<'still running 20 s later'>((resolve) => setTimeout(() => resolve('still running 20 s later'), 20_000).unref());
  const code = await Promise.race([exited, timeout]);
  if (typeof code === 'string') {
    child.kill('SIGKILL');
    throw new Error(`${code}: ${stderr}`);
  }
  return { code, ms: Date.now() - sent, stderr };
}
