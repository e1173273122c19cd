import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveHeadModel } from '../../src/recipes/save-head-model.js';
import { hasShared, int8Model, repoRoot, skipReason, tempDir, type CliRun } from '../support.js';

/** The built CLI run in `cwd`, where `graft report`'s default --out (report.html) lies. */
function graftIn(cwd: string, args: string[], env: Record<string, string>): Promise<CliRun> {
  return new Promise((resolvePromise) => {
    execFile(process.execPath, [join(repoRoot, 'bin/graft.js'), ...args], { cwd, env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      resolvePromise({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

skipReason('graft report onto an existing report.html');
describe.skipIf(!hasShared)('graft report without --out', () => {
  let root: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    root = await tempDir('graft-report-default-');
    env = { GRAFT_CACHE_DIR: join(root, 'cache') };
    // A model directory in a second: a head saved on the int8 backbone (2560 features: its two default scales).
    const head = { inputDim: 2560, outputDim: 2, weight: new Float32Array(2560 * 2), bias: new Float32Array(2), activation: 'softmax' as const };
    await saveHeadModel({ backbone: int8Model, cacheDir: join(root, 'cache'), labels: ['ants', 'bees'], head: [head], out: join(root, 'model') });
  }, 60_000);
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("keeps the user's own report.html, replaces an earlier Graft report, and replaces any file named by --out", async () => {
    const mine = '<h1>my quarterly report</h1>\n';
    await writeFile(join(root, 'report.html'), mine);
    const refused = await graftIn(root, ['report', 'model'], env);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('report.html exists and is not a Graft report');
    expect(refused.stderr).toContain('--out report.html');
    expect(await readFile(join(root, 'report.html'), 'utf8')).toBe(mine);

    const named = await graftIn(root, ['report', 'model', '--out', 'report.html'], env);
    expect(named.code, named.stderr).toBe(0);
    expect(await readFile(join(root, 'report.html'), 'utf8')).toContain('<title>Graft report');
    const again = await graftIn(root, ['report', 'model'], env);
    expect(again.code, again.stderr).toBe(0);
  }, 60_000);

  it("never replaces a file of the model it reports on (its graft.json was replaced by the report, and the model lost)", async () => {
    const manifest = await readFile(join(root, 'model', 'graft.json'), 'utf8');
    const refused = await graftIn(root, ['report', 'model', '--out', 'model/graft.json'], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('The output model/graft.json is a file of model, which this run reads');
    expect(await readFile(join(root, 'model', 'graft.json'), 'utf8')).toBe(manifest);
    // A new file in the model directory (train --report writes one there), and again over it: fine.
    for (let i = 0; i < 2; i++) {
      const inside = await graftIn(root, ['report', 'model', '--out', 'model/report.html'], env);
      expect(inside.code, inside.stderr).toBe(0);
    }
  }, 60_000);
});
