import { connect } from 'node:net';
import { spawn } from 'node:child_process';
import { chmod, copyFile, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSyntheticDataset, type SyntheticDataset } from '../../src/data/synthetic.js';
import { startDashboardServer } from '../../src/serve/dashboard/start-dashboard-server.js';
import type { StoredEvaluation } from '../../src/serve/dashboard/run-queue.js';
import { rawRequest } from '../http-support.js';
import { repoRoot, runCli, tempDir } from '../support.js';
import { chromiumSkipReason, hasChromium, launchChromium, serveStatic } from '../web/web-support.js';

type Server = Awaited<ReturnType<typeof startDashboardServer>>;
interface ErrorJson {
  error: { code: string; message: string; hint?: string };
}

// Issue 9, problems 1 and 2: the dashboard handed the server's disk to anyone who could reach it, and foreign pages
// could change state with "simple" requests. Real servers on loopback, real HTTP, a real browser for cross-site.
describe('training dashboard: who may use it, and from where', () => {
  let root: string;
  let datasets: string;
  let secret: string;
  let data: SyntheticDataset;
  let server: Server;
  let auth: Record<string, string>;

  beforeAll(async () => {
    root = await tempDir('graft-security-');
    datasets = join(root, 'datasets');
    data = await writeSyntheticDataset(join(datasets, 'shapes'), { perClass: 4 });
    // A private folder next to the data root (mode 700), and a link inside the root that leads to it.
    secret = join(root, 'secret');
    await writeSyntheticDataset(join(secret, 'photos'), { perClass: 4 });
    await chmod(secret, 0o700);
    await symlink(secret, join(datasets, 'escape'));
    server = await startDashboardServer({ dataDir: join(root, 'ui'), port: 0, dataRoots: [datasets] });
    auth = { authorization: `Bearer ${server.token}` };
  });
  afterAll(async () => {
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });

  const post = (path: string, body: unknown, headers: Record<string, string> = auth) =>
    fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

  it('answers no API call and not the page without the token (401 in Graft JSON); /healthz stays open', async () => {
    const calls: [string, string][] = [['GET', '/v1/projects'], ['GET', '/v1/projects/1'], ['GET', '/v1/runs/1'], ['GET', '/v1/runs/1/events'], ['GET', '/v1/runs/1/thumbnails/0?size=512'], ['GET', '/v1/data-roots'], ['GET', '/dashboard/'], ['GET', '/dashboard/dashboard.js'], ['GET', '/metrics'], ['POST', '/v1/projects'], ['POST', '/v1/runs/1/cancel'], ['POST', '/v1/runs/1/label-issues/0/relabel'], ['POST', '/v1/runs/1/label-issues/0/remove'], ['DELETE', '/v1/runs/1'], ['DELETE', '/v1/projects/1']];
    for (const [method, path] of calls) {
      const attempts: Record<string, string>[] = [{}, { authorization: 'Bearer wrong-token-of-the-right-length-xxxxxxxxxxxxxxx' }, { cookie: `graft-token-${new URL(server.url).port}=forged` }];
      for (const headers of attempts) {
        const response = await fetch(`${server.url}${path}`, { method, headers });
        expect(response.status, `${method} ${path} ${JSON.stringify(headers)}`).toBe(401);
        expect(((await response.json()) as ErrorJson).error.code).toBe('UNAUTHORIZED');
      }
    }
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.url}/v1/projects`, { headers: auth })).status).toBe(200);
    expect(server.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // A browser opening the page without the token (it asks for text/html first) reads a page, not the JSON body.
    const navigation = await fetch(`${server.url}/dashboard/`, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    expect([navigation.status, navigation.headers.get('content-type')]).toEqual([401, 'text/html; charset=utf-8']);
    const page = await navigation.text();
    expect(page).toContain('<h1>Unauthorized</h1><p>This server needs its access token.</p>');
    expect(page).toContain('Send the header &quot;Authorization: Bearer &lt;token&gt;&quot;');
    expect(page).toMatch(/UNAUTHORIZED, request id <code>[\w-]+<\/code>/);
  });

  it('closes the connection of a refused request, whose announced 100 MB body it does not wait for', async () => {
    const target = new URL(server.url);
    const socket = connect(Number(target.port), target.hostname);
    const started = performance.now();
    const answer = await new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const timer = setTimeout(() => reject(new Error('the connection stayed open')), 5000);
      socket.on('connect', () => socket.write('POST /v1/projects HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{'));
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('error', reject);
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(Buffer.concat(chunks).toString('utf8'));
      });
    });
    expect(answer).toMatch(/^HTTP\/1\.1 401 /);
    expect(answer.toLowerCase()).toContain('connection: close');
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('turns the printed link into an HttpOnly, SameSite=Strict cookie and takes the token out of the address', async () => {
    const wrong = await fetch(`${server.url}/dashboard/?token=not-the-token`, { redirect: 'manual' });
    expect(wrong.status).toBe(401);
    const link = await fetch(`${server.url}/dashboard/?token=${server.token}`, { redirect: 'manual' });
    expect(link.status).toBe(303);
    // Relative to the link, so that a proxy publishing the server under a path keeps the browser under it.
    expect(link.headers.get('location')).toBe('./');
    expect(new URL(link.headers.get('location')!, link.url).href).toBe(`${server.url}/dashboard/`);
    const cookie = link.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    expect(cookie).not.toContain(server.token);
    const session = cookie.split(';')[0]!;
    const page = await fetch(`${server.url}/dashboard/`, { headers: { cookie: session } });
    expect(page.status).toBe(200);
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect((await fetch(`${server.url}/v1/projects`, { headers: { cookie: session } })).status).toBe(200);
  });

  it('creates projects only from folders inside --data-root, and its refusals do not tell what exists outside', async () => {
    const refused: string[] = [];
    // Links inside the root to a folder outside that exists and to one that does not: both outside, in the same words
    // (the dangling one was "There is no folder", telling the two apart).
    await symlink('/etc', join(datasets, 'etc-link'));
    await symlink('/no/such/place/anywhere', join(datasets, 'dead-link'));
    for (const folder of ['/etc', '/no/such/folder/anywhere', secret, join(secret, 'photos'), '../secret/photos', 'escape/photos', `${datasets}/../secret/photos`, 'etc-link', 'dead-link', 'dead-link/sub']) {
      const response = await post('/v1/projects', { name: 'probe', folder });
      const body = (await response.json()) as ErrorJson;
      expect({ folder, status: response.status, code: body.error.code }).toEqual({ folder, status: 403, code: 'FORBIDDEN' });
      refused.push(body.error.message.replace(JSON.stringify(folder), '<folder>'));
    }
    // An existing folder and a missing one get the same words: the API cannot be used to probe the disk.
    expect(new Set(refused).size).toBe(1);
    expect(refused[0]).not.toContain(root);

    const missing = await post('/v1/projects', { name: 'missing', folder: 'not-there' });
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as ErrorJson).error.code).toBe('INVALID_DATASET');
    for (const folder of ['shapes', data.root]) {
      // Two projects of one folder: two names (a name is taken once).
      const created = await post('/v1/projects', { name: `shapes from ${folder}`, folder });
      expect(created.status, folder).toBe(201);
      expect(((await created.json()) as { classes: unknown[] }).classes).toHaveLength(3);
    }
    // A class folder inside the root that links out of it: not counted, not listed, not trained on.
    const mixed = join(datasets, 'mixed');
    await mkdir(mixed);
    await symlink(join(data.trainDir, 'circles'), join(mixed, 'circles'));
    await symlink(join(data.trainDir, 'squares'), join(mixed, 'squares'));
    await symlink(join(secret, 'photos', 'train', 'circles'), join(mixed, 'leak'));
    const withLink = await post('/v1/projects', { name: 'mixed', folder: 'mixed' });
    expect(withLink.status).toBe(201);
    const project = (await withLink.json()) as { id: number; classes: { label: string }[]; skipped: number };
    expect(project.classes.map((c) => c.label)).toEqual(['circles', 'squares']);
    expect(project.skipped).toBeGreaterThan(0);
    expect((await fetch(`${server.url}/v1/projects/${project.id}/classes/leak`, { headers: auth })).status).toBe(404);
    expect((await fetch(`${server.url}/v1/projects/${project.id}/classes/circles`, { headers: auth })).status).toBe(200);
    // A folder whose every class links out: refused, saying the links were left out (it said "0 class folders" and
    // told the user to make class folders, which the folder has).
    const linkedOut = join(datasets, 'linked-out');
    await mkdir(linkedOut);
    await symlink(join(secret, 'photos', 'train', 'circles'), join(linkedOut, 'circles'));
    await symlink(join(secret, 'photos', 'train', 'squares'), join(linkedOut, 'squares'));
    const allOutResponse = await post('/v1/projects', { name: 'linked-out', folder: 'linked-out' });
    const allOut = (await allOutResponse.json()) as ErrorJson & { error: { hint: string } };
    expect(allOut.error.message).toMatch(/0 class folder\(s\) with images; training needs at least 2\. \d+ file\(s\) were left out: links that lead outside the data roots/);
    expect(allOut.error.hint).toMatch(/copy the images into the folder/);

    const roots = (await (await fetch(`${server.url}/v1/data-roots`, { headers: auth })).json()) as { roots: { root: string; folders: string[] }[] };
    expect(roots.roots.map((r) => r.root)).toHaveLength(1);
    expect(roots.roots[0]!.folders.some((f) => f.endsWith('shapes'))).toBe(true);

    const uploadsOnly = await startDashboardServer({ dataDir: join(root, 'ui-uploads-only'), port: 0 });
    try {
      const response = await fetch(`${uploadsOnly.url}/v1/projects`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${uploadsOnly.token}` }, body: JSON.stringify({ name: 'x', folder: data.root }) });
      expect(response.status).toBe(403);
      expect(((await response.json()) as ErrorJson).error.hint).toMatch(/--data-root/);
    } finally {
      await uploadsOnly.close();
    }
  });

  it('lists a class as training reads it: its sub-folders, and what it passes over (a text file, a link out of the roots) with the reason', async () => {
    const folder = join(datasets, 'nested');
    const circles = join(folder, 'circles');
    await mkdir(join(circles, 'more'), { recursive: true });
    const images = data.files.filter((f) => f.includes('/train/circles/'));
    await copyFile(images[0]!, join(circles, 'a.png'));
    await copyFile(images[1]!, join(circles, 'more', 'b.png'));
    await writeFile(join(circles, 'notes.txt'), 'taken on a cloudy day');
    await symlink(join(secret, 'photos', 'train', 'circles', basename(images[2]!)), join(circles, 'leak.png'));
    await symlink(join(data.trainDir, 'squares'), join(folder, 'squares'));
    const created = await post('/v1/projects', { name: 'nested', folder: 'nested' });
    expect(created.status).toBe(201);
    const project = (await created.json()) as { id: number; classes: { label: string; count: number }[] };
    const listed = (await (await fetch(`${server.url}/v1/projects/${project.id}/classes/circles`, { headers: auth })).json()) as { images: { name: string }[]; skipped: { name: string; reason: string }[] };
    expect(listed.images.map((i) => i.name)).toEqual(['a.png', 'more/b.png']);
    // The project's counts (what training reads) and the listing agree.
    expect(project.classes.find((c) => c.label === 'circles')!.count).toBe(listed.images.length);
    expect(listed.skipped.map((s) => [s.name, s.reason])).toEqual([
      ['leak.png', expect.stringMatching(/outside the data roots/)],
      ['notes.txt', expect.stringMatching(/not an image/)],
    ]);
    expect(JSON.stringify(listed)).not.toContain(secret);
  });

  it('never reads a stored project folder or image that is outside the data roots (no training, no thumbnails)', async () => {
    const { store } = server.dashboard;
    // As a store written before data roots existed, or by a server started with other roots, would hold it.
    const outside = store.createProject('from before', join(secret, 'photos'));
    const shown = (await (await fetch(`${server.url}/v1/projects/${outside.id}`, { headers: auth })).json()) as { isReadable: boolean; classes: unknown[] };
    expect(shown).toMatchObject({ isReadable: false, classes: [] });
    expect((await post(`/v1/projects/${outside.id}/runs`, { epochs: 1 })).status).toBe(403);
    const run = store.createRun(outside.id, { epochs: 1, hidden: 0, backbone: 'nsfwjs_mobilenet_v2' }, (id) => join(root, 'ui', 'runs', String(id), 'model'));
    const file = join(secret, 'photos', 'train', 'circles', (data.files.find((f) => f.includes('/train/circles/')) ?? '').split('/').at(-1)!);
    const evaluation: StoredEvaluation = { dataset: secret, count: 1, accuracy: 0, labels: ['a', 'b'], confusion: [[0, 1], [0, 0]], perClass: {}, misclassified: [{ index: 0, file, true: 'a', predicted: 'b', confidence: 0.9 }] };
    store.saveEvaluation(run.id, evaluation);
    store.markFinished(run.id, {});
    const thumbnail = await fetch(`${server.url}/v1/runs/${run.id}/thumbnails/0?size=512`, { headers: auth });
    expect(thumbnail.status).toBe(404);
    expect(((await thumbnail.json()) as ErrorJson).error.message).not.toContain(secret);
  });

  it('refuses host names a DNS-rebinding page would send, on every path', async () => {
    const port = new URL(server.url).port;
    for (const host of [`evil.example:${port}`, 'evil.example', `127.0.0.1.evil.example:${port}`, '']) {
      const reply = await rawRequest(`${server.url}/v1/projects`, { headers: { host, ...auth } });
      expect({ host, status: reply.status, code: reply.json().error.code }).toEqual({ host, status: 403, code: 'FORBIDDEN' });
    }
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `app.localhost:${port}`]) {
      expect((await rawRequest(`${server.url}/v1/projects`, { headers: { host, ...auth } })).status, host).toBe(200);
    }
    const named = await startDashboardServer({ dataDir: join(root, 'ui-named'), port: 0, allowedHosts: ['graft.lab.internal'] });
    try {
      expect((await rawRequest(`${named.url}/healthz`, { headers: { host: 'graft.lab.internal' } })).status).toBe(200);
      expect((await rawRequest(`${named.url}/healthz`, { headers: { host: 'other.lab.internal' } })).status).toBe(403);
    } finally {
      await named.close();
    }
  });

  it('refuses state changes from another origin, "simple" text bodies, and cookie requests without X-Graft-Request', async () => {
    const { store } = server.dashboard;
    const project = store.createProject('cancel target', data.root);
    const run = store.createRun(project.id, { epochs: 1, hidden: 0, backbone: 'nsfwjs_mobilenet_v2' }, (id) => join(root, 'ui', 'runs', String(id), 'model'));
    const link = await fetch(`${server.url}/dashboard/?token=${server.token}`, { redirect: 'manual' });
    const cookie = (link.headers.get('set-cookie') ?? '').split(';')[0]!;
    const own = server.url;
    const cancel = (headers: Record<string, string>, body?: string) => rawRequest(`${server.url}/v1/runs/${run.id}/cancel`, { method: 'POST', headers, ...(body === undefined ? {} : { body }) });
    const attempts: [string, Record<string, string>, string | undefined, number][] = [
      ['foreign Origin, cookie and header', { cookie, origin: 'http://evil.example', 'x-graft-request': '1' }, undefined, 403],
      ['foreign Origin, Bearer token', { ...auth, origin: 'http://evil.example' }, undefined, 403],
      ['another port of this host', { cookie, origin: 'http://127.0.0.1:1', 'x-graft-request': '1' }, undefined, 403],
      ['Sec-Fetch-Site cross-site', { cookie, 'sec-fetch-site': 'cross-site', 'x-graft-request': '1' }, undefined, 403],
      ['Sec-Fetch-Site same-site, this Origin', { cookie, origin: own, 'sec-fetch-site': 'same-site', 'x-graft-request': '1' }, undefined, 403],
      ['cookie without X-Graft-Request', { cookie, origin: own }, undefined, 403],
      ['text/plain form body', { cookie, origin: own, 'x-graft-request': '1', 'content-type': 'text/plain' }, 'x=1', 415],
    ];
    for (const [what, headers, body, status] of attempts) {
      const reply = await cancel(headers, body);
      expect({ what, status: reply.status }).toEqual({ what, status });
      expect(store.run(run.id)!.status, what).toBe('queued');
    }
    // graft ui takes no --cors: its refusal does not offer it.
    const foreign = (await cancel({ ...auth, origin: 'http://evil.example' })).json() as ErrorJson & { error: { hint: string } };
    expect(foreign.error.message).toBe('A POST request from another site (Origin http://evil.example, Sec-Fetch-Site not sent) is refused.');
    expect(foreign.error.hint).not.toContain('--cors');
    const textProject = await rawRequest(`${server.url}/v1/projects`, { method: 'POST', headers: { ...auth, 'content-type': 'text/plain' }, body: '{"name":"x"}' });
    expect(textProject.status).toBe(415);
    // The page's own request, and a script's: accepted.
    expect((await cancel({ cookie, origin: own, 'x-graft-request': '1', 'sec-fetch-site': 'same-origin' })).status).toBe(200);
    expect(store.run(run.id)!.status).toBe('cancelled');
    const second = store.createRun(project.id, { epochs: 1, hidden: 0, backbone: 'nsfwjs_mobilenet_v2' }, (id) => join(root, 'ui', 'runs', String(id), 'model'));
    expect((await rawRequest(`${server.url}/v1/runs/${second.id}/cancel`, { method: 'POST', headers: auth })).status).toBe(200);
    // The browser's own word that the page is this server's (Sec-Fetch-Site, which no page can set) stands where the
    // Origin is not the Host the server was sent: a reverse proxy in front that passes on a Host of its own.
    const third = store.createRun(project.id, { epochs: 1, hidden: 0, backbone: 'nsfwjs_mobilenet_v2' }, (id) => join(root, 'ui', 'runs', String(id), 'model'));
    const proxied = { cookie, origin: 'https://lab.example.com', 'x-graft-request': '1' };
    const refused = await rawRequest(`${server.url}/v1/runs/${third.id}/cancel`, { method: 'POST', headers: proxied });
    expect(refused.status).toBe(403);
    expect(refused.json().error.hint).toContain('proxy_set_header Host $http_host');
    expect((await rawRequest(`${server.url}/v1/runs/${third.id}/cancel`, { method: 'POST', headers: { ...proxied, 'sec-fetch-site': 'same-origin' } })).status).toBe(200);
    expect((await rawRequest(`${server.url}/v1/runs/${third.id}`, { method: 'DELETE', headers: auth })).status).toBe(204);

    // Deleting a run (it ended: cancelled above) is guarded the same way; its record stays until a request may.
    const remove = (headers: Record<string, string>) => rawRequest(`${server.url}/v1/runs/${run.id}`, { method: 'DELETE', headers });
    for (const [what, headers, , status] of attempts.filter(([, , body]) => body === undefined)) {
      expect({ what, status: (await remove(headers)).status }).toEqual({ what, status });
      expect(store.run(run.id), what).toBeDefined();
    }
    expect((await remove({})).status).toBe(401);
    expect(store.run(run.id)).toBeDefined();
    expect((await remove({ cookie, origin: own, 'x-graft-request': '1', 'sec-fetch-site': 'same-origin' })).status).toBe(204);
    expect(store.run(run.id)).toBeUndefined();
    expect((await rawRequest(`${server.url}/v1/runs/${second.id}`, { method: 'DELETE', headers: auth })).status).toBe(204);
  });

  it.skipIf(!hasChromium)('a page on another port of this host cannot cancel a run or upload, even with the dashboard cookie in the browser', async () => {
    const { store } = server.dashboard;
    const project = (await (await post('/v1/projects', { name: 'uploads target' })).json()) as { id: number };
    const run = store.createRun(project.id, { epochs: 1, hidden: 0, backbone: 'nsfwjs_mobilenet_v2' }, (id) => join(root, 'ui', 'runs', String(id), 'model'));
    const evilDir = join(root, 'evil');
    await mkdir(evilDir, { recursive: true });
    const { writeFile } = await import('node:fs/promises');
    // Everything a foreign page can send without CORS: forms (text/plain, multipart) and no-cors fetches.
    await writeFile(join(evilDir, 'index.html'), `<!doctype html><body>
      <iframe name="sink"></iframe>
      <form id="t" target="sink" method="POST" enctype="text/plain" action="${server.url}/v1/runs/${run.id}/cancel"><input name="a" value="b"></form>
      <form id="m" target="sink" method="POST" enctype="multipart/form-data" action="${server.url}/v1/projects/${project.id}/images"><input name="label" value="pwned"></form>
      <script>
        document.getElementById('t').submit();
        document.getElementById('m').submit();
        const form = new FormData(); form.append('label', 'pwned2'); form.append('files', new Blob([new Uint8Array([0xff, 0xd8, 0xff, 0xe0])], { type: 'image/jpeg' }), 'x.jpg');
        Promise.all([
          fetch('${server.url}/v1/runs/${run.id}/cancel', { method: 'POST', mode: 'no-cors', credentials: 'include' }),
          fetch('${server.url}/v1/projects/${project.id}/images', { method: 'POST', mode: 'no-cors', credentials: 'include', body: form }),
        ]).finally(() => { document.title = 'done'; });
      </script></body>`);
    const evil = await serveStatic({ '/': evilDir });
    const chromium = await launchChromium();
    try {
      const page = await chromium.browser.newPage();
      await page.goto(`${server.url}/dashboard/?token=${server.token}`); // the victim is logged in
      await page.goto(`${evil.url}/index.html`);
      await page.waitForFunction("document.title === 'done'");
      await page.waitForTimeout(500);
      expect(store.run(run.id)!.status).toBe('queued');
      const detail = (await (await fetch(`${server.url}/v1/projects/${project.id}`, { headers: auth })).json()) as { classes: unknown[] };
      expect(detail.classes).toEqual([]);
    } finally {
      await chromium.close();
      await evil.close();
    }
  });

  it('graft ui on a non-loopback address warns, and still requires the token; a short --token is refused', async () => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin/graft.js'), 'ui', '--host', '0.0.0.0', '--port', '0', '--data-dir', join(root, 'ui-cli'), '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    try {
      const deadline = Date.now() + 20_000;
      while (!stdout.includes('}') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const printed = JSON.parse(stdout) as { url: string; dashboard: string };
      expect(stderr).toMatch(/warning: the dashboard listens on 0\.0\.0\.0/);
      const token = new URL(printed.dashboard).searchParams.get('token')!;
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const port = new URL(printed.url).port;
      expect((await fetch(`http://127.0.0.1:${port}/v1/projects`)).status).toBe(401);
      expect((await fetch(`http://127.0.0.1:${port}/v1/projects`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.on('exit', r));
    }
    const short = await runCli(['ui', '--port', '0', '--token', 'abc', '--data-dir', join(root, 'ui-short'), '--json']);
    expect(short.code).toBe(2);
    expect(JSON.parse(short.stdout)).toMatchObject({ error: { code: 'INVALID_CONFIG' } });
    expect(JSON.parse(short.stdout).error.message).toMatch(/^The token from --token must be at least 16 characters/);
    // A weak token from the variable is blamed on the variable (before: on "the token option").
    const shortEnv = await runCli(['ui', '--port', '0', '--data-dir', join(root, 'ui-short'), '--json'], { GRAFT_TOKEN: 'abc' });
    expect(shortEnv.code).toBe(2);
    expect(JSON.parse(shortEnv.stdout).error.message).toMatch(/^The token from \$GRAFT_TOKEN must be at least 16 characters/);
  });
});

if (!hasChromium) chromiumSkipReason('cross-site browser test of the dashboard');
