import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
});
