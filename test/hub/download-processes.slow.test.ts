// Several processes fetching the same TF.js backbone (model.json plus its shard) into one fresh cache at the same
// moment, as two terminals or a script of `graft embed`s do, and taking over the lock a killed download left: Graft's
// own resolver and lock from the built dist/ in each child (test/fixtures/backbone-puller.mjs, lock-holder.mjs).
import { execFile, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { hasShared, sharedDir, skipReason, tempDir } from '../support.js';

const PULLER = fileURLToPath(new URL('../fixtures/backbone-puller.mjs', import.meta.url));
const LOCK_HOLDER = fileURLToPath(new URL('../fixtures/lock-holder.mjs', import.meta.url));
/** Where a bare local-folder mirror finds the puller's model (its TF Hub URL's path). */
const HUB_PATH = 'google/tfjs-model/imagenet/mobilenet_v1_025_224/classification/1/default/1';
const CHILDREN = 3;
const ROUNDS = 20;

skipReason('backbone downloads by several processes');
describe.skipIf(!hasShared)('a TF.js backbone fetched by several processes at once', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it('every process gets the model, and each cache holds it whole, once, with its model id', async () => {
    const root = await tempDir();
    dirs.push(root);
    const mirror = join(root, 'mirror');
    mkdirSync(join(mirror, HUB_PATH), { recursive: true });
    cpSync(join(sharedDir, 'models/mobilenet-v1-025-tfjs/graph'), join(mirror, HUB_PATH), { recursive: true });
    const caches = join(root, 'caches');
    // Each round, every child fetches into the same fresh cache at the same instant. Before the folder lock, about
    // one round in twenty failed: one process read model.json.download after another had renamed it (ENOENT), or
    // read the model id record while another was writing it, took the copy for damaged and deleted it.
    const startAt = Date.now() + 1_000;
    const runs = await Promise.all(Array.from({ length: CHILDREN }, () => pull(caches, mirror, startAt)));
    for (const run of runs) expect(run.stdout.split('\n').filter((line) => line.startsWith('failed'))).toEqual([]);
    const ids = new Set(runs.flatMap((run) => [...run.stdout.matchAll(/^ok \d+ (\w+)$/gm)].map((match) => match[1])));
    expect(ids.size).toBe(1);
    const [id] = ids;
    for (let round = 0; round < ROUNDS; round++) {
      const models = join(caches, String(round), 'models');
      expect(readdirSync(models)).toEqual([expect.stringMatching(/^url-[0-9a-f]{16}$/)]);
      const folder = join(models, readdirSync(models)[0]!);
      // No lock, partial or model.json.download left behind.
      expect(readdirSync(folder).sort()).toEqual(['.graft-model-id', 'group1-shard1of1', 'model.json']);
      expect(readFileSync(join(folder, '.graft-model-id'), 'utf8')).toBe(id);
    }
    expect(runs.map((run) => run.code)).toEqual(new Array<number>(CHILDREN).fill(0));
  });

  it('a lock left by a killed process is taken over by exactly one of the processes waiting for it', async () => {
    const locks = await tempDir();
    dirs.push(locks);
    const dead = spawnSync(process.execPath, ['-e', '']).pid; // exited: its pid names no process now
    const rounds = 12;
    for (let round = 0; round < rounds; round++) writeFileSync(join(locks, `${round}.lock`), `${dead}\n${hostname()}\n`);
    // Each round, every child finds the same abandoned lock at the same instant. Before the takeover lock, about one
    // round in two had two holders: the second child removed the lock the first had just taken.
    const startAt = Date.now() + 1_000;
    const runs = await Promise.all(Array.from({ length: CHILDREN }, () => run(LOCK_HOLDER, [locks, String(rounds), String(startAt), '150', '30'])));
    expect(runs.map((r) => r.code)).toEqual(new Array<number>(CHILDREN).fill(0));
    const holds = runs.flatMap((r) => [...r.stdout.matchAll(/^held (\d+) (\d+) (\d+)$/gm)].map((m) => ({ round: Number(m[1]), from: Number(m[2]), to: Number(m[3]) })));
    expect(holds).toHaveLength(rounds * CHILDREN);
    const overlapping = holds.filter((a) => holds.some((b) => a !== b && a.round === b.round && a.from < b.to && b.from < a.to));
    expect(overlapping).toEqual([]);
    expect(readdirSync(locks)).toEqual([]); // no lock or takeover left
  });
});

function pull(caches: string, mirror: string, startAt: number): Promise<{ code: number; stdout: string }> {
  return run(PULLER, [caches, mirror, String(ROUNDS), String(startAt), '100']);
}

function run(fixture: string, args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [fixture, ...args], (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout: stdout + stderr });
    });
  });
}
