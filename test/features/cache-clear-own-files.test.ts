import { existsSync } from 'node:fs';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheContents, clearCache } from '../../src/features/cache-contents.js';
import { tempDir } from '../support.js';

/**
 * `graft cache clear` on a cache folder that holds other things (GRAFT_CACHE_DIR pointed at a project folder or the
 * home folder): only what Graft wrote there goes. The CLI run on a real cache is test/cli/cache.slow.test.ts.
 */
describe('clearCache on a folder that is not only the cache', () => {
  const modelId = 'ab'.repeat(32);
  const own = ['exports/' + `${modelId}-auto-2.onnx`, `exports/${modelId}-auto-2.json`, `exports/${modelId}-auto-2.onnx.tmp-99999999-0123abcd`, `backbones/${modelId}-auto.json`];
  const ownDownloads = ['models/mobilenet_v2/mobilenetv2-12-int8.onnx', 'models/url-0123456789abcdef/model.onnx'];
  const users = ['exports/sales.csv', 'backbones/notes.json', 'models/my-resnet/weights.bin', 'models/mobilenet_v2_notes.txt', 'src/main.ts'];
  let root: string;
  let cache: string;
  beforeAll(async () => {
    root = await tempDir('graft-cache-clear-');
    cache = join(root, 'project');
    for (const file of [...own, ...ownDownloads, ...users]) {
      await mkdir(dirname(join(cache, file)), { recursive: true });
      await writeFile(join(cache, file), 'x');
    }
    // A link in models/ to a folder elsewhere: neither it nor what it leads to is the cache's.
    await mkdir(join(root, 'elsewhere'));
    await writeFile(join(root, 'elsewhere', 'keep.bin'), 'x');
    await symlink(join(root, 'elsewhere'), join(cache, 'models', 'linked'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('lists and removes only the exports, descriptions and downloads Graft named; the user\'s files stay', async () => {
    expect((await cacheContents(cache)).models.map((m) => m.folder)).toEqual(['mobilenet_v2', 'url-0123456789abcdef']);

    const cleared = await clearCache(cache);
    expect(cleared.models).toEqual([]);
    expect(own.filter((file) => existsSync(join(cache, file)))).toEqual([]);
    expect([...ownDownloads, ...users].filter((file) => !existsSync(join(cache, file)))).toEqual([]);

    const all = await clearCache(cache, { models: true });
    expect(all.models).toEqual(['mobilenet_v2', 'url-0123456789abcdef']);
    expect(ownDownloads.filter((file) => existsSync(join(cache, file)))).toEqual([]);
    expect(users.filter((file) => !existsSync(join(cache, file)))).toEqual([]);
    expect(existsSync(join(cache, 'models', 'linked', 'keep.bin'))).toBe(true);
    expect(existsSync(join(root, 'elsewhere', 'keep.bin'))).toBe(true);
  });

  it('removes the exports and descriptions folders once they hold nothing else', async () => {
    const alone = join(root, 'alone');
    await mkdir(join(alone, 'exports'), { recursive: true });
    await writeFile(join(alone, 'exports', `${modelId}-auto-2.onnx`), 'x');
    await clearCache(alone);
    expect(existsSync(join(alone, 'exports'))).toBe(false);
  });
});

describe('clearCache and cacheContents on a damaged feature database', () => {
  it('info says it is damaged and clear removes it (both stopped at it, so the cache could not be emptied)', async () => {
    const { FeatureStore, FEATURE_STORE_FILE } = await import('../../src/features/feature-store.js');
    const cache = await tempDir('graft-cache-damaged-');
    FeatureStore.open(cache).close();
    const { openSync, writeSync, closeSync, statSync, readFileSync } = await import('node:fs');
    const file = join(cache, FEATURE_STORE_FILE);
    // A disk that lost the file's body: SQLite's header kept, the rest garbage.
    const header = readFileSync(file).subarray(0, 100);
    const fd = openSync(file, 'w');
    writeSync(fd, header);
    writeSync(fd, Buffer.alloc(8192, 0xab));
    closeSync(fd);
    expect(statSync(file).size).toBe(8292);
    const info = await cacheContents(cache);
    expect(info.features).toMatchObject({ entries: 0, damaged: expect.stringMatching(/malformed|not a database/) });
    const cleared = await clearCache(cache);
    expect(cleared.features).toBe(0);
    expect(existsSync(file)).toBe(false);
    expect((await cacheContents(cache)).features).toBeNull();
  });
});
