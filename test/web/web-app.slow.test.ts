import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraftModel } from '../../src/model/graft-model.js';
import { repoRoot } from '../support.js';
import { accessibilityTree, chooseFilesWithKey, contrastProblems, focusProblems, namingProblems, tabFromTopTo, tabThrough } from './page-accessibility.js';
import { artifactsDir, chromiumSkipReason, hasChromium, launchChromium, removeTinyModel, trainTinyModel, type TinyModel } from './web-support.js';

const startServerFile = join(repoRoot, 'src/serve/start-server.ts');
const hasServer = existsSync(startServerFile);
if (!hasServer) console.warn(`skipping the upload page browser test: ${startServerFile} does not exist yet`);
if (!hasChromium) chromiumSkipReason('upload page browser test');

describe.skipIf(!hasServer || !hasChromium)('upload page (src/web/app) against graft serve', () => {
  let model: TinyModel;
  let webRoot: string;
  let secondModelDir: string;
  let server: { url: string; close(): Promise<void> };
  beforeAll(async () => {
    model = await trainTinyModel();
    // A second model (same files, another name) so the page shows its model picker.
    secondModelDir = join(model.root, 'shapes-b');
    await cp(model.dir, secondModelDir, { recursive: true });
    // Trained without validation images (the default): the page then shows the cross-validated accuracy.
    const manifestPath = join(secondModelDir, 'graft.json');
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as { metrics: { val: unknown } };
    await writeFile(manifestPath, JSON.stringify({ ...manifest, metrics: { ...manifest.metrics, val: null } }));
    // Build the page from the current sources (what `npm run build` puts in dist/web-app).
    webRoot = join(model.root, 'web-app');
    const { build } = await import('vite');
    await build({ configFile: join(repoRoot, 'vite.config.ts'), logLevel: 'silent', build: { outDir: webRoot, emptyOutDir: true } });
    await mkdir(artifactsDir, { recursive: true });
    const { startServer } = (await import(startServerFile)) as typeof import('../../src/serve/start-server.js');
    server = await startServer({ models: [model.dir, secondModelDir], port: 0, webRoot, watch: false });
  });
  afterAll(async () => {
    await server?.close();
    await removeTinyModel(model);
  });

  it('uploads images from the keyboard alone and shows and says the right top class, at 1280 and 390 px; names, contrast, focus hold', async () => {
    const chromium = await launchChromium();
    try {
      // Training images: the tiny model fits them, so their true class is the top class.
      const images = ['circles', 'squares', 'triangles'].map((label) => model.data.files.find((f) => f.includes(`/train/${label}/`))!);
      const node = await GraftModel.load(model.dir);
      const expected = (await node.predict(images, { topK: 1 })).results.map((r) => r.predictions[0]!.label);
      await node.dispose();
      expect(expected).toEqual(['circles', 'squares', 'triangles']);

      const page = await chromium.browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.setViewportSize({ width: 1280, height: 900 });
      await page.goto(`${server.url}/`);
      await page.waitForSelector('#labels li');
      // Labels and metrics come from the API.
      expect(await page.locator('#labels li').allTextContents()).toEqual(['circles', 'squares', 'triangles']);
      expect(await page.locator('#model-summary').textContent()).toContain('validation accuracy');
      expect(await page.locator('#model option').allTextContents()).toEqual(['model', 'shapes-b']);
      expect(await page.locator('#picker-wrap').isVisible()).toBe(true);
      await page.selectOption('#model', 'shapes-b');
      await page.waitForFunction("document.querySelector('#model-summary').textContent.startsWith('shapes-b')");
      expect(await page.locator('#model-summary').textContent()).toMatch(/cross-validated accuracy \d+\.\d% \(\d folds of the training images\)/);
      await page.selectOption('#model', 'model');
      await page.waitForFunction("document.querySelector('#model-summary').textContent.startsWith('model:')");

      // Every control named, every stop of a Tab walk in page order and visibly focused, no trap.
      expect.soft(await namingProblems(page)).toEqual([]);
      const walk = await tabThrough(page);
      expect.soft(focusProblems(walk)).toEqual([]);
      expect(walk.stops.map((s) => s.what)).toEqual(['a "Skip to upload"', 'select#model', 'input#files', 'button#camera-start "Use the camera"']);

      // Keyboard only: Tab from the top reaches the file input (through the skip link and the model picker), and
      // Enter opens the file chooser.
      expect(await tabFromTopTo(page, '#files'), 'the file input is reachable with Tab').toBe(true);
      await chooseFilesWithKey(page, 'Enter', images);
      await page.waitForFunction("document.querySelectorAll('#results li.card[data-top]').length === 3", undefined, { timeout: 30_000 });
      const shown = await page.evaluate<Record<string, string>>(
        "Object.fromEntries([...document.querySelectorAll('#results li.card')].map((c) => [c.querySelector('h3').textContent, c.dataset.top]))",
      );
      images.forEach((file, i) => expect(shown[file.split('/').pop()!], file).toBe(expected[i]));
      expect(await page.locator('#results li.card').first().locator('.bar').count()).toBe(3);
      // A result is said in the live region (what a screen reader reads out), not only drawn as bars; its image's
      // alt text gives it too.
      const said = new RegExp(`^(${images.map((f, i) => `${basename(f).replace('.', '\\.')}: ${expected[i]}`).join('|')}) \\(\\d+\\.\\d%\\)$`);
      expect(await page.locator('#status').textContent()).toMatch(said);
      expect((await accessibilityTree(page)).filter((n) => n.role === 'status')).toEqual([{ role: 'status', name: '', live: 'polite' }]);
      expect(await page.locator('#results li.card img').evaluateAll((imgs) => imgs.map((i) => i.getAttribute('alt')))).toEqual(
        expect.arrayContaining(images.map((f, i) => expect.stringMatching(new RegExp(`^${basename(f).replace('.', '\\.')}, classified as ${expected[i]}, \\d+\\.\\d%$`)))),
      );
      expect.soft(await contrastProblems(page)).toEqual([]);
      // The bars grow with a transition, unless the user asked for less motion.
      const transition = "getComputedStyle(document.querySelector('#results .fill')).transitionDuration";
      expect(await page.evaluate<string>(transition)).toBe('0.3s');
      await page.emulateMedia({ reducedMotion: 'reduce' });
      expect(await page.evaluate<string>(transition)).toBe('0s');
      // Drag and drop: a file dropped on the drop zone is classified too.
      await page.evaluate(`(async () => {
        const canvas = Object.assign(document.createElement('canvas'), { width: 64, height: 48 });
        canvas.getContext('2d').fillRect(8, 8, 30, 30);
        const blob = await new Promise((ok) => canvas.toBlob(ok, 'image/png'));
        const transfer = new DataTransfer();
        transfer.items.add(new File([blob], 'dropped.png', { type: 'image/png' }));
        document.getElementById('drop').dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
      })()`);
      await page.waitForFunction("[...document.querySelectorAll('#results li.card[data-top] h3')].some((h) => h.textContent === 'dropped.png')");
      expect(errors).toEqual([]);

      for (const width of [1280, 390]) {
        await page.setViewportSize({ width, height: 900 });
        await page.screenshot({ path: join(artifactsDir, `web-app-${width}.png`), fullPage: true });
        const overflow = await page.evaluate<boolean>('document.documentElement.scrollWidth > document.documentElement.clientWidth');
        expect(overflow, `horizontal overflow at ${width}px`).toBe(false);
      }

      // Picking the other model fetches its details from the API.
      await page.selectOption('#model', 'shapes-b');
      await page.waitForFunction("document.getElementById('model-summary').textContent.startsWith('shapes-b')");

      // A server that cannot be reached is said in the live region, and the model panel is no longer busy.
      await page.route('**/v1/models', (route) => route.abort());
      await page.reload();
      await page.waitForFunction("document.getElementById('status').textContent.startsWith('Could not reach the Graft server')", undefined, { timeout: 10_000 });
      expect(await page.locator('#model-info').getAttribute('aria-busy')).toBe('false');
    } finally {
      await chromium.close();
    }
  });

  it('ignores an ?api= that would send the photos to another machine, and says so', async () => {
    const chromium = await launchChromium();
    try {
      const page = await chromium.browser.newPage();
      const foreign: string[] = [];
      await page.route('http://evil.example/**', async (route) => {
        foreign.push(route.request().url());
        await route.abort();
      });
      await page.goto(`${server.url}/?api=${encodeURIComponent('http://evil.example/')}`);
      await page.waitForSelector('#labels li');
      expect(await page.locator('#status').textContent()).toContain('?api=http://evil.example/ was ignored');
      await page.setInputFiles('#files', [model.data.files.find((f) => f.includes('/train/circles/'))!]);
      await page.waitForSelector('#results li.card[data-top]', { timeout: 30_000 });
      expect(foreign).toEqual([]);
    } finally {
      await chromium.close();
    }
  });

  it('takes a photo with the camera (Chromium fake device) and classifies it', async () => {
    const chromium = await launchChromium(['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream']);
    try {
      const page = await chromium.browser.newPage();
      await page.goto(`${server.url}/`);
      await page.waitForSelector('#labels li');
      await page.click('#camera-start');
      await page.waitForFunction("document.getElementById('video').videoWidth > 0", undefined, { timeout: 10_000 });
      await page.click('#camera-capture');
      await page.waitForSelector('#results li.card[data-top]', { timeout: 30_000 });
      const card = page.locator('#results li.card').first();
      expect(await card.locator('h3').textContent()).toMatch(/^camera-.*\.jpg$/);
      expect(['circles', 'squares', 'triangles']).toContain(await card.getAttribute('data-top'));
      await page.click('#camera-stop');
      expect(await page.locator('#camera').isHidden()).toBe(true);
    } finally {
      await chromium.close();
    }
  });
});
