import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DashboardStore } from '../../src/serve/dashboard/dashboard-store.js';
import { RunQueue, type RunEvent } from '../../src/serve/dashboard/run-queue.js';
import { tempDir } from '../support.js';

describe('the dashboard run queue when its store cannot be written', () => {
  it('reports the run failed and keeps going, instead of an unhandled rejection that ends the server', async () => {
    const dir = await tempDir();
    const store = DashboardStore.open(dir);
    try {
      const project = store.createProject('p', join(dir, 'data'));
      const runs = [1, 2].map(() => store.createRun(project.id, { epochs: 1, hidden: 0, backbone: 'mobilenet_v2' }, (id) => join(dir, 'runs', String(id), 'model')));
      // What a full disk does to SQLite: every write throws (SQLITE_FULL), recording a failure included.
      const full = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
      store.markRunning = () => {
        throw full;
      };
      store.markFailed = () => {
        throw full;
      };
      const queue = new RunQueue({ store, dataDir: dir, cacheDir: join(dir, 'cache'), offline: true });
      const heard = new Map<number, RunEvent[]>();
      for (const run of runs) queue.listen(run.id, (event) => heard.set(run.id, [...(heard.get(run.id) ?? []), event]));
      const second = new Promise<void>((resolve) => queue.listen(runs[1]!.id, () => resolve()));
      for (const run of runs) queue.enqueue(run.id);
      await second; // the queue went on to the next run
      await queue.close();
      for (const run of runs) {
        expect(heard.get(run.id), `run ${run.id}`).toEqual([{ type: 'status', status: 'failed', error: expect.stringMatching(/could not record this run \(database or disk is full\)/) }]);
      }
    } finally {
      store.close();
    }
  });
});
