import { copyFile, mkdir, rm } from 'node:fs/promises';
import { createServer, request as forwardRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSyntheticDataset, type SyntheticDataset } from '../../src/data/synthetic.js';
import { generateToken } from '../../src/serve/access/access-token.js';
import { startDashboardServer } from '../../src/serve/dashboard/start-dashboard-server.js';
import { startServer } from '../../src/serve/start-server.js';
import { repoRoot, tempDir } from '../support.js';
import { chromiumSkipReason, hasChromium, launchChromium, removeTinyModel, trainTinyModel, type TinyModel } from '../web/web-support.js';

if (!hasChromium) chromiumSkipReason('pages behind a reverse proxy');

/** How the proxy passes a request on: with the browser's Host or its own, the prefix cut off or kept. */
interface ProxyRule {
  readonly passHost: boolean;
  readonly stripPrefix: boolean;
}

/**
 * A reverse proxy that publishes a server under a path, as nginx's `location /graft/ { proxy_pass http://upstream/; }`
 * does: the prefix is cut off (or, `proxy_pass http://upstream;`, kept), the rest goes upstream as it came, both ways
 * streamed (an event stream included). The browser's Host is passed on (`proxy_set_header Host $http_host`) or, as
 * nginx does by default, replaced by the upstream's. A request outside the prefix is the proxy's own 404, and is
 * recorded: a page that sends one has left the path it was published under.
 */
async function prefixProxy(upstream: string, prefix: string, rule: ProxyRule): Promise<{ url: string; outside: string[]; close(): Promise<void> }> {
  const target = new URL(upstream);
  const outside: string[] = [];
  const server = createServer((request, response) => {
    const path = request.url ?? '/';
    // Kept, the prefix is matched as a Kubernetes ingress's Prefix path is: the bare `/graft` goes upstream too.
    const bare = prefix.slice(0, -1);
    const isInside = path.startsWith(prefix) || (!rule.stripPrefix && (path === bare || path.startsWith(`${bare}?`)));
    if (!isInside) {
      outside.push(`${request.method} ${path}`);
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not published here');
      return;
    }
    const forward = forwardRequest(
      {
        host: target.hostname,
        port: target.port,
        method: request.method,
        path: rule.stripPrefix ? `/${path.slice(prefix.length)}` : path,
        headers: rule.passHost ? request.headers : { ...request.headers, host: target.host },
      },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    forward.on('error', () => response.destroy());
    request.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    outside,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/**
 * Publishes `server` under /graft/ and runs `use` with a fresh Chromium page and the proxy's address; then checks that
 * the page threw nothing and sent nothing outside /graft/, and closes all three.
 */
async function throughProxy(server: { url: string; close(): Promise<void> }, rule: ProxyRule, use: (page: Page, published: string) => Promise<void>): Promise<void> {
  const proxy = await prefixProxy(new URL(server.url).origin, '/graft/', rule);
  const chromium = await launchChromium();
  try {
    const page = await chromium.browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.setViewportSize({ width: 1280, height: 900 });
    await use(page, `${proxy.url}/graft/`);
    expect(errors).toEqual([]);
    expect(proxy.outside).toEqual([]);
  } finally {
    await chromium.close();
    await proxy.close();
    await server.close();
  }
}

describe.skipIf(!hasChromium)('graft serve and graft ui published under a path by a reverse proxy (/graft/)', () => {
  let model: TinyModel | undefined;
  let root: string;
  let data: SyntheticDataset;
  beforeAll(async () => {
    model = await trainTinyModel();
    root = await tempDir('graft-behind-proxy-');
    data = await writeSyntheticDataset(join(root, 'shapes'), { perClass: 6 });
    // A circle filed under squares, so the run has a misclassified image whose thumbnail the page loads.
    await copyFile(data.files.find((f) => f.includes('/val/circles/'))!, join(data.valDir, 'squares', 'planted-circle.jpg'));
  });
  afterAll(async () => {
    await removeTinyModel(model);
    await rm(root, { recursive: true, force: true });
  });

  it('the upload page: its token link, its labels and a prediction all go through /graft/ (the Host passed on)', async () => {
    const token = generateToken();
    const server = await startServer({ models: [model!.dir], port: 0, webRoot: join(repoRoot, 'dist', 'web-app'), token, watch: false });
    await throughProxy(server, { passHost: true, stripPrefix: true }, async (page, published) => {
      // The token link sets the cookie and sends the browser back to the page without the token, under the prefix.
      await page.goto(`${published}?token=${token}`);
      expect(page.url()).toBe(published);
      await page.waitForSelector('#labels li');
      expect(await page.locator('#labels li').allTextContents()).toEqual(['circles', 'squares', 'triangles']);
      await page.setInputFiles('#files', [model!.data.files.find((f) => f.includes('/train/squares/'))!]);
      await page.waitForSelector('#results li.card[data-top]', { timeout: 30_000 });
      expect(await page.locator('#results li.card').first().getAttribute('data-top')).toBe('squares');
    });
  });

  it('the upload page where the proxy keeps the path (graft serve --base-path /graft): the same, and /graft alone redirects', async () => {
    const server = await startServer({ models: [model!.dir], port: 0, webRoot: join(repoRoot, 'dist', 'web-app'), watch: false, basePath: '/graft' });
    expect(server.url).toMatch(/\/graft$/);
    await throughProxy(server, { passHost: true, stripPrefix: false }, async (page, published) => {
      await page.goto(published.replace(/\/$/, ''));
      expect(page.url()).toBe(published);
      await page.waitForSelector('#labels li');
      await page.setInputFiles('#files', [model!.data.files.find((f) => f.includes('/train/triangles/'))!]);
      await page.waitForSelector('#results li.card[data-top]', { timeout: 30_000 });
      expect(await page.locator('#results li.card').first().getAttribute('data-top')).toBe('triangles');
    });
  });

  it("the dashboard: login, a project, a run followed live, its thumbnails, downloads and a try of the model all go through /graft/ (the proxy's own Host)", async () => {
    const cacheDir = join(tmpdir(), 'graft-web-tests-cache');
    await mkdir(cacheDir, { recursive: true });
    const server = await startDashboardServer({ dataDir: join(root, 'ui'), cacheDir, port: 0, dataRoots: [root], offline: true });
    // nginx's default: the Host the server sees is its own address, not the one the browser used; the browser's
    // Sec-Fetch-Site still says each POST is from the page's own site.
    await throughProxy(server, { passHost: false, stripPrefix: true }, async (page, published) => {
      // The server's root redirects to its dashboard: under the prefix, not at the proxy's root.
      await page.goto(`${published}?token=${server.token}`);
      expect(page.url()).toBe(`${published}dashboard/`);

      await page.getByLabel('Name', { exact: true }).fill('shapes');
      await page.getByLabel(/Folder on the server/).fill(data.root);
      await page.getByRole('button', { name: 'Create from folder' }).click();
      await page.waitForFunction("document.getElementById('project-message').textContent.startsWith('Created project shapes')");
      await page.waitForFunction("document.querySelectorAll('#class-list li').length === 3");

      await page.getByRole('button', { name: 'Start training' }).click();
      // Followed by its event stream, through the proxy, to the end.
      await page.waitForFunction("document.getElementById('run-section').dataset.status === 'finished'", undefined, { timeout: 60_000 });
      await page.waitForSelector('#evaluation:not([hidden]) #confusion tbody tr');
      // The thumbnails' paths come from the API ("/v1/runs/..."); the page puts them under the prefix.
      const planted = page.getByRole('button', { name: /planted-circle\.jpg: true squares, predicted circles/ });
      await planted.scrollIntoViewIfNeeded();
      await page.waitForFunction("[...document.querySelectorAll('#misclassified img')].every((img) => img.complete && img.naturalWidth > 0)");
      await planted.click();
      await page.waitForFunction("document.getElementById('image-dialog').open && document.getElementById('image-dialog-img').naturalWidth > 0");
      await page.getByRole('button', { name: 'Close' }).click();

      const download = await page.evaluate<string>("document.getElementById('download-onnx').href");
      expect(download).toMatch(new RegExp(`^${published}v1/runs/\\d+/model\\.onnx$`));
      // Fetched as the link would be: by the page, with its cookie.
      const onnx = await page.evaluate(async (url) => {
        const answer = await fetch(url);
        return { status: answer.status, bytes: (await answer.arrayBuffer()).byteLength };
      }, download);
      expect(onnx.status).toBe(200);
      expect(onnx.bytes).toBeGreaterThan(1000);

      await page.setInputFiles('#try-file', [data.files.find((f) => f.includes('/train/triangles/'))!]);
      await page.waitForFunction("document.querySelectorAll('#try-results li').length === 3");
    });
  });
});
