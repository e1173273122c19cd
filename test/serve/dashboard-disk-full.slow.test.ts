import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSyntheticDataset, type SyntheticDataset } from '../../src/data/synthetic.js';
import { repoRoot, tempDir } from '../support.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const TOKEN = 'disk-full-test-token-0123456789';

interface ErrorJson {
  error: { code: string; message: string; hint?: string };
}

// A full disk under `graft ui` (test/fixtures/full-disk.mjs, preloaded into the real CLI, fails every write with
// ENOSPC or SQLITE_FULL while a flag file exists). Before: 500 INTERNAL "Internal error: ENOSPC: ...".
describe('graft ui on a full disk', () => {
  let root: string;
  let data: SyntheticDataset;
  let dataDir: string;
  let flag: string;
  let child: ChildProcess;
  let url: string;
  let stderr = '';
  const auth = { authorization: `Bearer ${TOKEN}` };

  beforeAll(async () => {
    root = await tempDir('graft-disk-full-');
    data = await writeSyntheticDataset(join(root, 'shapes'), { perClass: 4 });
    dataDir = join(root, 'ui');
    flag = join(root, 'disk-is-full');
    const preload = pathToFileURL(join(repoRoot, 'test/fixtures/full-disk.mjs')).href;
    child = spawn(process.execPath, ['--import', preload, join(repoRoot, 'bin/graft.js'), 'ui', '--port', '0', '--data-dir', dataDir, '--data-root', root, '--offline', '--json'], {
      env: { ...process.env, GRAFT_TOKEN: TOKEN, GRAFT_TEST_DISK_FULL: flag, GRAFT_CACHE_DIR: join(root, 'cache') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const deadline = Date.now() + 60_000;
    while (!stdout.trim().endsWith('}')) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`graft ui did not start:\n${stderr}`);
      await sleep(50);
    }
    url = (JSON.parse(stdout) as { url: string }).url;
  });
  afterAll(async () => {
    child?.kill('SIGTERM');
    if (child && child.exitCode === null) await new Promise((r) => child.on('close', r));
    await rm(root, { recursive: true, force: true });
  });

  const post = (path: string, body: unknown) => fetch(`${url}${path}`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const upload = async (projectId: number): Promise<Response> => {
    const form = new FormData();
    form.append('label', 'circles');
    for (const file of data.files.filter((f) => f.includes('/train/circles/')).slice(0, 2)) form.append('files', new Blob([await readFile(file)], { type: 'image/jpeg' }), 'c.jpg');
    return fetch(`${url}/v1/projects/${projectId}/images`, { method: 'POST', headers: auth, body: form });
  };
  const expectFull = async (response: Response, what: string): Promise<void> => {
    expect(response.status, what).toBe(507);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await response.json()) as ErrorJson;
    expect(Object.keys(body), what).toEqual(['error']);
    expect(body.error, what).toEqual({ code: 'INSUFFICIENT_STORAGE', message: expect.stringContaining(`The disk holding ${dataDir} is full; free space and retry (`), hint: expect.any(String), requestId: response.headers.get('x-request-id') });
  };

  it('answers an upload, a run request and a new project with 507 naming the data folder, keeps nothing of them, and works again once there is space', async () => {
    const uploads = (await (await post('/v1/projects', { name: 'uploads' })).json()) as { id: number; dataDir: string };
    const folder = (await (await post('/v1/projects', { name: 'folder', folder: data.root })).json()) as { id: number };
    await writeFile(flag, '');
    try {
      await expectFull(await upload(uploads.id), 'upload');
      await expectFull(await post(`/v1/projects/${folder.id}/runs`, { backbone: 'nsfwjs_mobilenet_v2' }), 'run request');
      await expectFull(await post('/v1/projects', { name: 'another' }), 'new upload project');
    } finally {
      await rm(flag);
    }
    // Nothing half-made: no image, no staging left, no run, no project without a folder.
    expect(existsSync(join(uploads.dataDir, 'circles'))).toBe(false);
    expect(await readdir(join(dataDir, 'staging')).catch(() => [])).toEqual([]);
    const projects = (await (await fetch(`${url}/v1/projects`, { headers: auth })).json()) as { projects: { name: string; runs: number }[] };
    expect(projects.projects.map((p) => [p.name, p.runs])).toEqual([['folder', 0], ['uploads', 0]]);
    // The server lived through it.
    expect((await upload(uploads.id)).status).toBe(201);
    expect(child.exitCode).toBeNull();
    expect(stderr).not.toMatch(/^\s+at /m);
  });
});
