import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { writeSyntheticDataset, type SyntheticDataset } from '../../src/data/synthetic.js';
import type { TrainConfigInput } from '../../src/learn/index.js';
import { train } from '../../src/recipes/train.js';
import { repoRoot, tempDir } from '../support.js';

/** Shared helpers for the report, export and web page tests: a tiny trained model and headless Chromium. */

export const chromiumPath = process.env.GRAFT_CHROMIUM ?? '/usr/bin/chromium';
export const hasChromium = existsSync(chromiumPath);
export const artifactsDir = join(repoRoot, 'test-artifacts');

/** Logs once why a browser test is skipped, so a run without Chromium says so instead of passing silently. */
export function chromiumSkipReason(what: string): string {
  const reason = `skipping ${what}: no Chromium at ${chromiumPath} (apt-get install chromium, or set GRAFT_CHROMIUM)`;
  if (!hasChromium) console.warn(reason);
  return reason;
}

export interface TinyModel {
  readonly dir: string;
  readonly data: SyntheticDataset;
  readonly root: string;
}

/**
 * Trains the smallest useful model on the synthetic shapes with the bundled nsfwjs backbone (offline).
 * The feature cache lives in one folder under the OS temp dir, so the second suite to train costs no backbone time.
 */
export async function trainTinyModel(perClass = 8, config?: TrainConfigInput): Promise<TinyModel> {
  const root = await tempDir('graft-web-');
  const data = await writeSyntheticDataset(join(root, 'shapes'), { perClass });
  const cacheDir = join(tmpdir(), 'graft-web-tests-cache');
  await mkdir(cacheDir, { recursive: true });
  const dir = join(root, 'model');
  await train({ train: data.root, backbone: 'nsfwjs_mobilenet_v2', out: dir, cacheDir, offline: true, ...(config ? { config } : {}) });
  return { dir, data, root };
}

export async function removeTinyModel(model: TinyModel | undefined): Promise<void> {
  if (model) await rm(model.root, { recursive: true, force: true });
}

/** Launches Debian's Chromium headless with the flags the project settled on, each launch with a fresh profile. */
export async function launchChromium(extraArgs: readonly string[] = []): Promise<{ browser: BrowserContext; close(): Promise<void> }> {
  const { chromium } = await import('playwright-core');
  const profile = await tempDir('graft-chromium-');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
      ...extraArgs,
    ],
  });
  return {
    browser: context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

export type { Browser };

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.css': 'text/css',
  '.jpg': 'image/jpeg',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

/** A loopback static file server: each URL prefix maps to a folder. Only GET; no directory listings. */
export async function serveStatic(mounts: Record<string, string>): Promise<{ url: string; close(): Promise<void> }> {
  const { createServer } = await import('node:http');
  const { readFile } = await import('node:fs/promises');
  const { extname, normalize, sep } = await import('node:path');
  const server = createServer((req, res) => {
    void (async () => {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      const prefix = Object.keys(mounts).filter((p) => path.startsWith(p)).sort((a, b) => b.length - a.length)[0];
      const rel = prefix === undefined ? undefined : normalize(path.slice(prefix.length) || 'index.html');
      if (prefix === undefined || rel === undefined || rel.startsWith('..') || rel.includes(`${sep}..`)) {
        res.writeHead(404).end();
        return;
      }
      try {
        const body = await readFile(join(mounts[prefix]!, rel));
        res.writeHead(200, { 'content-type': CONTENT_TYPES[extname(rel)] ?? 'application/octet-stream' }).end(body);
      } catch {
        res.writeHead(404).end();
      }
    })();
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}

/**
 * The page as a tab switched away from sees itself (hidden), or switched back to (visible): headless Chromium's pages
 * are always visible, so `document.hidden` and `document.visibilityState` are set on the document and
 * `visibilitychange` is dispatched, as the browser does. Timers keep running, so whatever the page does not stop
 * itself keeps going, and shows.
 */
export async function setPageHidden(page: Page, isHidden: boolean): Promise<void> {
  await page.evaluate(`(() => {
    Object.defineProperty(document, 'hidden', { value: ${isHidden}, configurable: true });
    Object.defineProperty(document, 'visibilityState', { value: '${isHidden ? 'hidden' : 'visible'}', configurable: true });
    document.dispatchEvent(new Event('visibilitychange'));
  })()`);
}
