import { existsSync } from 'node:fs';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunRecord, RunStatus } from '../../src/serve/dashboard/dashboard-store.js';
import { removeLeftoverRunFolders } from '../../src/serve/dashboard/run-files.js';
import { tempDir } from '../support.js';

/**
 * What `graft ui` removes at start-up of what a killed server left (the CLI test in test/cli/interrupt.slow.test.ts
 * kills one for real): the folder of an interrupted or failed run without a model, and nothing else.
 */
describe('removeLeftoverRunFolders', () => {
  let root: string;
  let dataDir: string;
  beforeAll(async () => {
    root = await tempDir('graft-leftover-runs-');
    dataDir = join(root, 'ui');
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const record = (id: number, status: RunStatus, modelDir = join(dataDir, 'runs', String(id), 'model')): RunRecord => ({
    id, projectId: 1, status, options: { epochs: 1, hidden: 0, backbone: 'mobilenet_v2' }, modelDir, metrics: null, error: null, started: null, ended: null, created: '',
  });
  /** Writes `files` (paths under the data folder) with some content. */
  const write = async (...files: string[]): Promise<void> => {
    for (const file of files) {
      await mkdir(join(dataDir, file, '..'), { recursive: true });
      await writeFile(join(dataDir, file), 'x');
    }
  };

  it('removes an interrupted or failed run folder without a model; keeps models, other statuses, links and folders elsewhere', async () => {
    await write('runs/1/model.checkpoint/weights.bin', 'runs/2/model.staging-99999999-0123abcd/model.onnx', 'runs/3/model/graft.json', 'runs/4/model.old-99999999-0123abcd/graft.json', 'runs/5/model.checkpoint/weights.bin', 'runs/6/model.checkpoint/weights.bin');
    await mkdir(join(dataDir, 'runs', '7')); // empty, as kill -9 before the first file leaves it
    // A run folder that is a link out of the data folder, and a run whose folder was never the dashboard's layout.
    const outside = join(root, 'elsewhere');
    await mkdir(join(outside, 'model.checkpoint'), { recursive: true });
    await writeFile(join(outside, 'model.checkpoint', 'weights.bin'), 'x');
    await symlink(outside, join(dataDir, 'runs', '8'));
    const runs = [
      record(1, 'interrupted'), record(2, 'failed'), record(3, 'interrupted'), record(4, 'failed'),
      record(5, 'finished'), record(6, 'cancelled'), record(7, 'interrupted'), record(8, 'interrupted'),
      record(9, 'interrupted', join(outside, 'model')), record(10, 'interrupted'),
    ];
    expect(removeLeftoverRunFolders(runs, dataDir).sort()).toEqual(['1', '2', '7'].map((id) => join(dataDir, 'runs', id)));
    expect(['1', '2', '7'].map((id) => existsSync(join(dataDir, 'runs', id)))).toEqual([false, false, false]);
    for (const kept of ['runs/3/model/graft.json', 'runs/4/model.old-99999999-0123abcd/graft.json', 'runs/5/model.checkpoint/weights.bin', 'runs/6/model.checkpoint/weights.bin', 'runs/8/model.checkpoint/weights.bin']) {
      expect(existsSync(join(dataDir, kept)), kept).toBe(true);
    }
    expect(existsSync(join(outside, 'model.checkpoint', 'weights.bin'))).toBe(true);
  });
});
