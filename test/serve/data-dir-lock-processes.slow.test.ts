// Several `graft ui` starting on one data folder at the same instant after a crash left its lock: Graft's own lock
// from the built dist/ in each child (test/fixtures/data-dir-claimer.mjs).
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support.js';

const CLAIMER = fileURLToPath(new URL('../fixtures/data-dir-claimer.mjs', import.meta.url));
const CHILDREN = 3;
const ROUNDS = 15;

interface Claim {
  round: number;
  pid: number;
  held?: { from: number; to: number };
  refusal?: string;
}

describe('a dashboard folder claimed by several graft ui at once', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it('a lock left by a crashed graft ui is taken over by exactly one; the others are told who holds it', async () => {
    const root = await tempDir('graft-ui-lock-');
    dirs.push(root);
    const dead = spawnSync(process.execPath, ['-e', '']).pid; // exited: its pid names no process now
    for (let round = 0; round < ROUNDS; round++) {
      mkdirSync(join(root, String(round)));
      writeFileSync(join(root, String(round), 'graft.lock'), `${dead}\n${hostname()}\n`);
    }
    // Each round, every child finds the same abandoned lock at the same instant. Before the takeover lock, a second
    // child could remove the lock the first had just taken (both then held the folder), or read a lock its holder
    // was removing and fail with a raw ENOENT.
    const startAt = Date.now() + 1_000;
    const runs = await Promise.all(Array.from({ length: CHILDREN }, () => claim(root, startAt)));
    expect(runs.map((r) => r.code)).toEqual(new Array<number>(CHILDREN).fill(0));
    const claims = runs.flatMap(parseClaims);
    expect(claims).toHaveLength(ROUNDS * CHILDREN);
    const holds = claims.filter((c) => c.held);
    const overlapping = holds.filter((a) => holds.some((b) => a !== b && a.round === b.round && a.held!.from < b.held!.to && b.held!.from < a.held!.to));
    expect(overlapping).toEqual([]);
    for (let round = 0; round < ROUNDS; round++) {
      const holders = holds.filter((c) => c.round === round).map((c) => c.pid);
      expect(holders.length, `round ${round}`).toBeGreaterThanOrEqual(1);
      // Each refusal is the clear one, naming a process that held this very folder.
      for (const { refusal } of claims.filter((c) => c.round === round && c.refusal !== undefined)) {
        const folder = join(root, String(round));
        expect(refusal).toMatch(new RegExp(`^INVALID_CONFIG The dashboard folder ${folder} is in use by another graft ui \\(process (${holders.join('|')})\\)$`));
      }
      expect(readdirSync(join(root, String(round))), `round ${round}`).toEqual([]); // no lock or takeover left
    }
  }, 60_000);
});

function parseClaims(run: { pid: number; stdout: string }): Claim[] {
  return run.stdout.split('\n').filter((line) => line !== '').map((line) => {
    const held = /^held (\d+) (\d+) (\d+)$/.exec(line);
    if (held) return { round: Number(held[1]), pid: run.pid, held: { from: Number(held[2]), to: Number(held[3]) } };
    const refused = /^refused (\d+) (.*)$/.exec(line);
    return { round: refused ? Number(refused[1]) : -1, pid: run.pid, refusal: refused ? refused[2] : line };
  });
}

function claim(root: string, startAt: number): Promise<{ code: number; pid: number; stdout: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLAIMER, root, String(ROUNDS), String(startAt), '150', '60'], (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, pid: child.pid!, stdout: stdout + stderr });
    });
  });
}
