import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSyntheticDataset, type SyntheticDataset } from '../../src/data/synthetic.js';
import type { AccessLogEntry } from '../../src/serve/access-log.js';
import { startDashboardServer } from '../../src/serve/dashboard/start-dashboard-server.js';
import { multipartBody, rawRequest, requestCounts } from '../http-support.js';
import { repoRoot, tempDir } from '../support.js';

interface UploadJson {
  label: string;
  saved: number;
  duplicates: number;
  files: { name: string; stored: string; isDuplicate: boolean }[];
  project: { classes: { label: string; count: number }[] };
}
interface ErrorJson {
  error: { code: string; message: string };
}

// Issue 9, problem 4: uploads that lost or polluted data. Real images, a real server on loopback.
describe('dashboard uploads lose nothing and pollute nothing', () => {
  let root: string;
  let data: SyntheticDataset;
  let server: Awaited<ReturnType<typeof startDashboardServer>>;
  let headers: Record<string, string>;
  const MAX_UPLOAD = 200_000;
  // `graft ui --log` prints these; test/serve/load.slow.test.ts checks the lines the CLI prints.
  const logged: AccessLogEntry[] = [];

  beforeAll(async () => {
    root = await tempDir('graft-uploads-');
    data = await writeSyntheticDataset(join(root, 'shapes'), { perClass: 4 });
    server = await startDashboardServer({ dataDir: join(root, 'ui'), port: 0, maxUploadBytes: MAX_UPLOAD, accessLog: (entry) => logged.push(entry) });
    headers = { authorization: `Bearer ${server.token}` };
  });
  afterAll(async () => {
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });

  async function newProject(name: string): Promise<{ id: number; dataDir: string }> {
    const response = await fetch(`${server.url}/v1/projects`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ name }) });
    return (await response.json()) as { id: number; dataDir: string };
  }
  function upload(projectId: number, label: string, files: { name: string; bytes: Buffer }[]): Promise<Response> {
    const form = new FormData();
    form.append('label', label);
    for (const f of files) form.append('files', new Blob([f.bytes], { type: 'image/jpeg' }), f.name);
    return fetch(`${server.url}/v1/projects/${projectId}/images`, { method: 'POST', headers, body: form });
  }
  const image = (kind: string, i = 0) => readFile(data.files.filter((f) => f.includes(`/train/${kind}/`))[i]!);
  const stored = async (dir: string): Promise<string[]> => (existsSync(dir) ? (await readdir(dir)).sort() : []);
  const stagingEmpty = async (): Promise<boolean> => (await stored(join(root, 'ui', 'staging'))).length === 0;

  it('keeps two different files sent under the same name, and stores the same image once', async () => {
    const project = await newProject('same names');
    const [a, b] = [await image('circles', 0), await image('circles', 1)];
    const response = await upload(project.id, 'circles', [{ name: 'photo.jpg', bytes: a }, { name: 'photo.jpg', bytes: b }, { name: 'again.jpg', bytes: a }]);
    expect(response.status).toBe(201);
    const body = (await response.json()) as UploadJson;
    expect({ saved: body.saved, duplicates: body.duplicates }).toEqual({ saved: 2, duplicates: 1 });
    const files = await stored(join(project.dataDir, 'circles'));
    expect(files).toHaveLength(2);
    for (const name of files) expect(name).toMatch(/^[0-9a-f]{32}\.jpg$/);
    expect(body.files.map((f) => f.name)).toEqual(['photo.jpg', 'photo.jpg', 'again.jpg']);
    expect(body.project.classes).toEqual([{ label: 'circles', count: 2 }]);
  });

  it('a 413 (one file over the limit) leaves no file at all, not even the ones before it', async () => {
    const project = await newProject('too large');
    // A real JPEG of noise, larger than the limit.
    const big = await sharp(Buffer.from(Array.from({ length: 600 * 600 * 3 }, (_, i) => (i * 7919) % 251)), { raw: { width: 600, height: 600, channels: 3 } }).jpeg({ quality: 100 }).toBuffer();
    expect(big.length).toBeGreaterThan(MAX_UPLOAD);
    const response = await upload(project.id, 'squares', [{ name: 'ok.jpg', bytes: await image('squares') }, { name: 'big.jpg', bytes: big }]);
    expect(response.status).toBe(413);
    expect(((await response.json()) as ErrorJson).error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(await stored(join(project.dataDir, 'squares'))).toEqual([]);
    expect(await stagingEmpty()).toBe(true);
  });

  it('refuses an SVG named .png, an empty file and a text file (415), keeping nothing of that upload', async () => {
    const project = await newProject('not images');
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"><image xlink:href="secret.png"/></svg>');
    for (const bad of [{ name: 'evil.png', bytes: svg }, { name: 'empty.jpg', bytes: Buffer.alloc(0) }, { name: 'notes.jpg', bytes: Buffer.from('hello') }]) {
      const response = await upload(project.id, 'triangles', [{ name: 'fine.jpg', bytes: await image('triangles') }, bad]);
      expect(response.status, bad.name).toBe(415);
      expect(((await response.json()) as ErrorJson).error.message).toContain(bad.name);
    }
    expect(await stored(join(project.dataDir, 'triangles'))).toEqual([]);
    // A JPEG cut off half-way has a readable header: it is decoded, refused (400) and nothing is kept.
    const whole = await image('triangles', 1);
    const cut = await upload(project.id, 'triangles', [{ name: 'fine.jpg', bytes: await image('triangles') }, { name: 'cut.jpg', bytes: whole.subarray(0, Math.floor(whole.length / 2)) }]);
    expect(cut.status).toBe(400);
    expect(((await cut.json()) as ErrorJson).error).toMatchObject({ code: 'UNREADABLE_IMAGE', message: expect.stringMatching(/^cut\.jpg cannot be decoded/) });
    expect(await stored(join(project.dataDir, 'triangles'))).toEqual([]);
    expect(await stagingEmpty()).toBe(true);
  });

  it('stores a BMP and an iPhone HEIC under their own extensions, and refuses a BMP whose header claims too many pixels', async () => {
    const project = await newProject('bmp and heic');
    const fixture = (path: string): Promise<Buffer> => readFile(join(repoRoot, 'test/fixtures', path));
    const response = await upload(project.id, 'circles', [{ name: 'scan.bmp', bytes: await fixture('bmp/pal8.bmp') }, { name: 'IMG_0001.HEIC', bytes: await fixture('heic/plasma.heic') }]);
    expect(response.status).toBe(201);
    const body = (await response.json()) as UploadJson;
    expect(body.files.map((f) => f.stored.slice(32))).toEqual(['.bmp', '.heic']);
    expect((await stored(join(project.dataDir, 'circles'))).map((f) => f.slice(32)).sort()).toEqual(['.bmp', '.heic']);
    // 20 000 x 20 000 in the header of a 4 kB file: refused from the header, before anything decodes it.
    const huge = Buffer.from(await fixture('bmp/rgb24.bmp'));
    huge.writeInt32LE(20_000, 18);
    huge.writeInt32LE(20_000, 22);
    const refused = await upload(project.id, 'squares', [{ name: 'huge.bmp', bytes: huge }]);
    expect(refused.status).toBe(413);
    expect(((await refused.json()) as ErrorJson).error).toMatchObject({ code: 'IMAGE_TOO_LARGE', message: expect.stringContaining('huge.bmp is 20000 x 20000 pixels') });
    // Past what "Try the model" takes (40 megapixels) is past what an upload takes: it was trained on, then refused there.
    huge.writeInt32LE(7_000, 18);
    huge.writeInt32LE(6_000, 22);
    const large = await upload(project.id, 'squares', [{ name: 'large.bmp', bytes: huge }]);
    expect({ status: large.status, error: ((await large.json()) as ErrorJson).error }).toMatchObject({ status: 413, error: { code: 'IMAGE_TOO_LARGE', message: expect.stringContaining('large.bmp is 7000 x 6000 pixels, over the limit of 40000000') } });
    expect(await stored(join(project.dataDir, 'squares'))).toEqual([]);
    expect(await stagingEmpty()).toBe(true);
  });

  it('refuses reserved and invalid class names with 400; a class called train cannot break a project', async () => {
    const project = await newProject('names');
    for (const label of ['train', 'Train', 'val', 'validation', 'valid', 'test', 'CON', 'nul.txt', '.hidden', '../escape', 'a/b', 'x'.repeat(65), 'dot.', '']) {
      const response = await upload(project.id, label, [{ name: 'a.jpg', bytes: await image('circles') }]);
      expect(response.status, JSON.stringify(label)).toBe(400);
      const body = (await response.json()) as ErrorJson;
      expect(body.error.code).toBe('BAD_REQUEST');
      expect(body.error.message).not.toContain(root);
    }
    expect(await stored(project.dataDir)).toEqual([]);
    // Letters of any script are letters: an accent typed apart (NFD) is the same class as the composed one, and
    // Devanagari's vowel signs (combining marks) are part of its words.
    for (const label of ['ünïcode'.normalize('NFD'), 'ünïcode', 'हिन्दी']) {
      const response = await upload(project.id, label, [{ name: 'a.jpg', bytes: await image('circles') }]);
      expect(response.status, JSON.stringify(label)).toBe(201);
    }
    expect(await stored(project.dataDir)).toEqual(['ünïcode', 'हिन्दी'].sort());
  });

  it('takes a 300-character file name (stored by content) and refuses a 300-character label without showing a server path', async () => {
    const project = await newProject('long names');
    const response = await upload(project.id, 'circles', [{ name: `${'n'.repeat(300)}.jpg`, bytes: await image('circles') }]);
    expect(response.status).toBe(201);
    const body = (await response.json()) as UploadJson;
    expect(body.files[0]!.name.length).toBeLessThanOrEqual(100);
    expect(await stored(join(project.dataDir, 'circles'))).toEqual([body.files[0]!.stored]);
    const long = await upload(project.id, 'l'.repeat(300), [{ name: 'a.jpg', bytes: await image('circles') }]);
    expect(long.status).toBe(400);
    expect(((await long.json()) as ErrorJson).error.message).not.toMatch(/\/tmp|graft-uploads/);
  });

  it('answers a malformed upload body with 400 and keeps nothing', async () => {
    const project = await newProject('malformed');
    const url = `${server.url}/v1/projects/${project.id}/images`;
    const unterminated = multipartBody('xyz', [{ name: 'label', data: 'circles' }, { name: 'files', filename: 'a.jpg', type: 'image/jpeg', data: await image('circles') }]).subarray(0, 400);
    for (const [contentType, body] of [['multipart/form-data', 'no boundary'], ['multipart/form-data; boundary=xyz', unterminated]] as const) {
      const reply = await rawRequest(url, { method: 'POST', headers: { ...headers, 'content-type': contentType }, body });
      expect(reply.status, contentType).toBe(400);
      expect(reply.json().error.code).toBe('BAD_REQUEST');
    }
    expect(await stored(project.dataDir)).toEqual([]);
    expect(await stagingEmpty()).toBe(true);
  });

  it('deletes an image, a class (even one named train, left by an older version) and a whole project', async () => {
    const project = await newProject('deletes');
    await upload(project.id, 'circles', [{ name: 'a.jpg', bytes: await image('circles', 0) }, { name: 'b.jpg', bytes: await image('circles', 1) }]);
    await upload(project.id, 'squares', [{ name: 'c.jpg', bytes: await image('squares', 0) }]);
    const listed = (await (await fetch(`${server.url}/v1/projects/${project.id}/classes/circles`, { headers })).json()) as { images: { name: string }[] };
    expect(listed.images).toHaveLength(2);
    const del = (path: string) => fetch(`${server.url}/v1/projects/${project.id}${path}`, { method: 'DELETE', headers });
    expect((await del(`/classes/circles/images/${listed.images[0]!.name}`)).status).toBe(204);
    expect(await stored(join(project.dataDir, 'circles'))).toEqual([listed.images[1]!.name]);
    expect((await del(`/classes/circles/images/${listed.images[0]!.name}`)).status).toBe(404);
    expect((await del('/classes/circles/images/..')).status).toBeGreaterThanOrEqual(400);
    expect((await del('/classes/..%2F..%2Fui/images/dashboard.sqlite')).status).toBeGreaterThanOrEqual(400);
    expect(existsSync(join(root, 'ui', 'dashboard.sqlite'))).toBe(true);

    // A project from before names were checked, with a class folder called "train": beside other class folders it
    // is a class, not the training part of a split set, so it no longer hides them; it can still be deleted.
    await mkdir(join(project.dataDir, 'train'), { recursive: true });
    const broken = (await (await fetch(`${server.url}/v1/projects/${project.id}`, { headers })).json()) as { classes: { label: string }[] };
    expect(broken.classes.map((c) => c.label)).toEqual(['circles', 'squares']);
    expect((await del('/classes/train')).status).toBe(204);
    const repaired = (await (await fetch(`${server.url}/v1/projects/${project.id}`, { headers })).json()) as { classes: { label: string }[] };
    expect(repaired.classes.map((c) => c.label)).toEqual(['circles', 'squares']);

    expect((await del('')).status).toBe(204);
    expect(existsSync(project.dataDir)).toBe(false);
    expect((await fetch(`${server.url}/v1/projects/${project.id}`, { headers })).status).toBe(404);
  });

  // A name that is not UTF-8 is legal on Linux (a zip made on Windows, unpacked here); node lists it with U+FFFD in
  // place of its bytes, a name that opens nothing. The class listing answered 500 INTERNAL (ENOENT from stat).
  it('lists a file whose name is not UTF-8 as skipped, with the reason, and still deletes its class', async () => {
    const project = await newProject('latin1 names');
    await upload(project.id, 'circles', [{ name: 'a.jpg', bytes: await image('circles', 0) }]);
    const latin1 = Buffer.concat([Buffer.from(join(project.dataDir, 'circles', 'caf')), Buffer.from([0xe9]), Buffer.from('.jpg')]);
    await writeFile(latin1, await image('circles', 1));
    const listing = await fetch(`${server.url}/v1/projects/${project.id}/classes/circles`, { headers });
    expect(listing.status).toBe(200);
    const listed = (await listing.json()) as { images: { name: string }[]; skipped: { name: string; reason: string }[] };
    expect(listed.images.map((i) => i.name)).toEqual([expect.stringMatching(/^[0-9a-f]{32}\.jpg$/)]);
    expect(listed.skipped).toEqual([{ name: 'caf\uFFFD.jpg', reason: expect.stringMatching(/^the file name is not valid UTF-8/) }]);
    // The project counts it as training will: one image, one file it cannot use.
    const described = (await (await fetch(`${server.url}/v1/projects/${project.id}`, { headers })).json()) as { classes: unknown[]; skipped: number };
    expect(described).toMatchObject({ classes: [{ label: 'circles', count: 1 }], skipped: 1 });
    // Its name as listed is no file (404, not 500); the class goes whole, that file included.
    expect((await fetch(`${server.url}/v1/projects/${project.id}/classes/circles/images/${encodeURIComponent('caf\uFFFD.jpg')}`, { method: 'DELETE', headers })).status).toBe(404);
    expect((await fetch(`${server.url}/v1/projects/${project.id}/classes/circles`, { method: 'DELETE', headers })).status).toBe(204);
    expect(existsSync(join(project.dataDir, 'circles'))).toBe(false);
  });

  it('answers a folder reached through a link out of the data roots with 403, whether it exists or not, and does not list the link', async () => {
    const outside = await tempDir('graft-outside-');
    await mkdir(join(outside, 'exists'));
    const inside = join(root, 'roots-with-link');
    await mkdir(inside);
    await symlink(outside, join(inside, 'outlink'));
    const withLink = await startDashboardServer({ dataDir: join(root, 'ui-link'), port: 0, dataRoots: [inside] });
    try {
      const h = { authorization: `Bearer ${withLink.token}`, 'content-type': 'application/json' };
      const statusOf = async (folder: string) => (await fetch(`${withLink.url}/v1/projects`, { method: 'POST', headers: h, body: JSON.stringify({ name: 'p', folder }) })).status;
      expect([await statusOf(join(inside, 'outlink', 'exists')), await statusOf(join(inside, 'outlink', 'nope')), await statusOf(join(inside, 'nope'))]).toEqual([403, 403, 400]);
      const roots = (await (await fetch(`${withLink.url}/v1/data-roots`, { headers: h })).json()) as { roots: { folders: string[] }[] };
      expect(roots.roots[0]!.folders).toEqual([]);
    } finally {
      await withLink.close();
      await rm(outside, { recursive: true, force: true });
    }
  });

  it('logs each request once: an upload with its images, an event stream when it ends (the client leaving included), a client gone before the answer as 499', async () => {
    const project = await newProject('logged');
    const uploaded = await upload(project.id, 'circles', [{ name: 'a.jpg', bytes: await image('circles', 0) }, { name: 'b.jpg', bytes: await image('circles', 1) }]);
    expect(uploaded.status).toBe(201);
    // Headers and half the announced body, then the connection closes: nothing was answered.
    const socket = connect(Number(new URL(server.url).port), '127.0.0.1');
    await new Promise((resolve) => socket.on('connect', resolve));
    socket.write(`POST /v1/projects/${project.id}/images HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${server.token}\r\nX-Request-Id: gone-early\r\nContent-Type: multipart/form-data; boundary=b0undary\r\nContent-Length: 100000\r\n\r\n--b0undary\r\n`);
    await new Promise((r) => setTimeout(r, 200));
    socket.destroy();
    // Runs made in the store and never queued: one still "queued" (its stream stays open), one that ended.
    const modelDir = (id: number) => join(root, 'ui', 'runs', String(id), 'model');
    const open = server.dashboard.store.createRun(project.id, { epochs: 1, hidden: 0, backbone: 'nsfwjs_mobilenet_v2' }, modelDir);
    const ended = server.dashboard.store.createRun(project.id, { epochs: 1, hidden: 0, backbone: 'nsfwjs_mobilenet_v2' }, modelDir);
    server.dashboard.store.markCancelled(ended.id, 'for the test');
    const endedStream = await fetch(`${server.url}/v1/runs/${ended.id}/events`, { headers: { ...headers, 'x-request-id': 'sse-ended' } });
    expect(await endedStream.text()).toContain('"status":"cancelled"');
    const leaving = new AbortController();
    const openStream = await fetch(`${server.url}/v1/runs/${open.id}/events`, { headers: { ...headers, 'x-request-id': 'sse-left' }, signal: leaving.signal });
    const reader = openStream.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('"status":"queued"');
    leaving.abort();
    const deadline = Date.now() + 30_000; // generous: the loop ends as soon as both are logged
    while (!['sse-left', 'gone-early'].every((id) => logged.some((e) => e.requestId === id)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const byId = (id: string) => logged.filter((e) => e.requestId === id);
    const uploadId = uploaded.headers.get('x-request-id')!;
    expect(byId(uploadId)).toEqual([expect.objectContaining({ method: 'POST', path: `/v1/projects/${project.id}/images`, status: 201, images: 2 })]);
    expect(byId('sse-ended')).toEqual([expect.objectContaining({ method: 'GET', path: `/v1/runs/${ended.id}/events`, status: 200 })]);
    expect(byId('sse-left')).toEqual([expect.objectContaining({ method: 'GET', path: `/v1/runs/${open.id}/events`, status: 200 })]);
    expect(byId('gone-early')).toEqual([expect.objectContaining({ method: 'POST', path: `/v1/projects/${project.id}/images`, status: 499 })]);
    // /metrics counts what the log says.
    expect(requestCounts(await (await fetch(`${server.url}/metrics`, { headers })).text()).get('/v1/projects/:id/images POST 499')).toBe(1);
  });

  it('never writes into or deletes from a project on a server folder', async () => {
    const withRoot = await startDashboardServer({ dataDir: join(root, 'ui-roots'), port: 0, dataRoots: [root] });
    try {
      const h = { authorization: `Bearer ${withRoot.token}` };
      const project = (await (await fetch(`${withRoot.url}/v1/projects`, { method: 'POST', headers: { ...h, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'folder', folder: data.root }) })).json()) as { id: number };
      const before = await stored(join(data.trainDir, 'circles'));
      const form = new FormData();
      form.append('label', 'circles');
      form.append('files', new Blob([await image('circles')]), 'x.jpg');
      expect((await fetch(`${withRoot.url}/v1/projects/${project.id}/images`, { method: 'POST', headers: h, body: form })).status).toBe(400);
      expect((await fetch(`${withRoot.url}/v1/projects/${project.id}/classes/train`, { method: 'DELETE', headers: h })).status).toBe(400);
      // Neither one of its images nor one of its classes can be deleted through the dashboard.
      expect((await fetch(`${withRoot.url}/v1/projects/${project.id}/classes/circles/images/${encodeURIComponent(before[0]!)}`, { method: 'DELETE', headers: h })).status).toBe(400);
      expect((await fetch(`${withRoot.url}/v1/projects/${project.id}/classes/circles`, { method: 'DELETE', headers: h })).status).toBe(400);
      expect(await stored(join(data.trainDir, 'circles'))).toEqual(before);
      // Its classes are listed from both parts of its train/ and val/ split, as training reads them.
      const listed = (await (await fetch(`${withRoot.url}/v1/projects/${project.id}/classes/circles`, { headers: h })).json()) as { images: { name: string; part: string }[] };
      expect(new Set(listed.images.map((i) => i.part))).toEqual(new Set(['train', 'val']));
      expect(listed.images.filter((i) => i.part === 'train').map((i) => i.name)).toEqual(before);
      expect((await fetch(`${withRoot.url}/v1/projects/${project.id}`, { method: 'DELETE', headers: h })).status).toBe(204);
      expect(await stored(join(data.trainDir, 'circles'))).toEqual(before);
    } finally {
      await withRoot.close();
    }
  });
});
