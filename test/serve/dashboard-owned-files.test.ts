import { existsSync } from 'node:fs';
import { cp, mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DashboardStore } from '../../src/serve/dashboard/dashboard-store.js';
import { startDashboardServer } from '../../src/serve/dashboard/start-dashboard-server.js';
import { tempDir } from '../support.js';

/** Writes each file (an absolute path) with some content. */
async function write(...files: string[]): Promise<void> {
  for (const file of files) {
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, 'x');
  }
}

/**
 * The dashboard deletes only files it wrote in its own folder (`--data-dir`): never the user's files in a folder
 * given as its data folder, nor another folder's runs named by a store copied from there. Real servers on loopback.
 */
describe('graft ui deletes only its own files', () => {
  let root: string;
  beforeAll(async () => {
    root = await tempDir('graft-ui-owned-');
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('refuses a --data-dir that holds other files before touching them; takes a new, empty or earlier dashboard folder', async () => {
    // The folder of the user's images, taken for the dashboard's folder: a class named staging, a projects/ folder.
    const photos = join(root, 'photos');
    const mine = [join(photos, 'staging', 'draft.jpg'), join(photos, 'projects', '1', 'plan.txt'), join(photos, 'cats', 'a.jpg')];
    await write(...mine);
    const refused = (await startDashboardServer({ dataDir: photos, port: 0 }).catch((e: unknown) => e)) as { code?: string; message: string; hint?: string };
    expect(refused.code).toBe('INVALID_CONFIG');
    expect(refused.message).toContain(photos);
    expect(refused.message).toContain(join(photos, 'cats'));
    expect(refused.hint).toContain('--data-root');
    expect(mine.filter((file) => !existsSync(file))).toEqual([]);
    expect(existsSync(join(photos, 'dashboard.sqlite'))).toBe(false);
    expect(existsSync(join(photos, 'graft.lock'))).toBe(false);

    // An empty folder (a volume's lost+found aside), and the same folder again once it is the dashboard's.
    const volume = join(root, 'volume');
    await mkdir(join(volume, 'lost+found'), { recursive: true });
    for (const attempt of [1, 2]) {
      const server = await startDashboardServer({ dataDir: volume, port: 0 });
      await server.close();
      expect(existsSync(join(volume, 'dashboard.sqlite')), `start ${attempt}`).toBe(true);
    }
  });

  it('deleting a project or a run removes only run folders of its own data folder: not those a copied store names, nor a model elsewhere', async () => {
    // A dashboard folder with two finished runs, each in its own project; a third run whose model lies elsewhere.
    const first = join(root, 'ui');
    const elsewhere = join(root, 'models', 'cats');
    const store = DashboardStore.open(first);
    const options = { epochs: 1, hidden: 0, backbone: 'mobilenet_v2' };
    const projects = ['one', 'two', 'three'].map((name) => store.createProject(name, join(first, 'projects', name)));
    const runs = projects.map((project, i) => store.createRun(project.id, options, (id) => (i === 2 ? elsewhere : join(first, 'runs', String(id), 'model'))));
    for (const run of runs) {
      store.markRunning(run.id);
      store.markFinished(run.id, {});
    }
    store.close();
    const models = [join(first, 'runs', String(runs[0]!.id), 'model', 'graft.json'), join(first, 'runs', String(runs[1]!.id), 'model', 'graft.json'), join(elsewhere, 'graft.json'), join(root, 'models', 'dogs', 'graft.json')];
    await write(...models);
    // A copy of the folder (a backup, a second machine), opened by a dashboard: its store names the first folder's runs.
    const copy = join(root, 'ui-copy');
    await cp(first, copy, { recursive: true });

    const server = await startDashboardServer({ dataDir: copy, port: 0 });
    try {
      const auth = { authorization: `Bearer ${server.token}` };
      expect((await fetch(`${server.url}/v1/projects/${projects[0]!.id}`, { method: 'DELETE', headers: auth })).status).toBe(204);
      expect((await fetch(`${server.url}/v1/runs/${runs[1]!.id}`, { method: 'DELETE', headers: auth })).status).toBe(204);
      expect((await fetch(`${server.url}/v1/projects/${projects[2]!.id}`, { method: 'DELETE', headers: auth })).status).toBe(204);
    } finally {
      await server.close();
    }
    expect(models.filter((file) => !existsSync(file))).toEqual([]);

    // In its own folder, a deleted run's folder goes.
    const own = await startDashboardServer({ dataDir: first, port: 0 });
    try {
      expect((await fetch(`${own.url}/v1/runs/${runs[1]!.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${own.token}` } })).status).toBe(204);
    } finally {
      await own.close();
    }
    expect(existsSync(join(first, 'runs', String(runs[1]!.id)))).toBe(false);
    expect(existsSync(models[0]!)).toBe(true);
  });
});
