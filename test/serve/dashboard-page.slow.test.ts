import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSyntheticDataset, type SyntheticDataset } from '../../src/data/synthetic.js';
import { DashboardStore } from '../../src/serve/dashboard/dashboard-store.js';
import { GraftModel } from '../../src/model/graft-model.js';
import { startDashboardServer } from '../../src/serve/dashboard/start-dashboard-server.js';
import { storedName } from '../../src/serve/dashboard/receive-upload.js';
import { sniffImageFormat } from '../../src/data/sniff-image-format.js';
import { tempDir } from '../support.js';
import { accessibilityTree, accessibleTables, chooseFilesWithKey, contrastProblems, failureTie, focusProblems, namingProblems, tabThrough } from '../web/page-accessibility.js';
import { artifactsDir, chromiumSkipReason, hasChromium, launchChromium, setPageHidden } from '../web/web-support.js';

if (!hasChromium) chromiumSkipReason('training dashboard browser test');

/** The name an upload stores a file under. */
async function storedNameOf(file: string): Promise<string> {
  const bytes = await readFile(file);
  return storedName(createHash('sha256').update(bytes).digest('hex'), sniffImageFormat(bytes)!);
}


/** A new 1280 x 900 page of `chromium`, and the errors its scripts throw. */
async function desktopPage(chromium: Awaited<ReturnType<typeof launchChromium>>): Promise<{ page: Page; errors: string[] }> {
  const page = await chromium.browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.setViewportSize({ width: 1280, height: 900 });
  return { page, errors };
}
describe.skipIf(!hasChromium)('training dashboard page (src/web/dashboard) in headless Chromium', () => {
  let root: string;
  let data: SyntheticDataset;
  let server: Awaited<ReturnType<typeof startDashboardServer>>;
  beforeAll(async () => {
    root = await tempDir('graft-dashboard-page-');
    data = await writeSyntheticDataset(join(root, 'shapes'), { perClass: 8 });
    // A circle filed under squares: the page must show it among the misclassified images.
    await copyFile(data.files.find((f) => f.includes('/val/circles/'))!, join(data.valDir, 'squares', 'planted-circle.jpg'));
    const cacheDir = join(tmpdir(), 'graft-web-tests-cache');
    await mkdir(cacheDir, { recursive: true });
    await mkdir(artifactsDir, { recursive: true });
    // A run a previous server left running: after this "restart" the page must call it interrupted.
    const before = DashboardStore.open(join(root, 'ui'));
    const old = before.createProject('before restart', data.root);
    before.markRunning(before.createRun(old.id, { epochs: 5, hidden: 0, backbone: 'nsfwjs_mobilenet_v2' }, (id) => join(root, 'ui', 'runs', String(id))).id);
    before.close();
    server = await startDashboardServer({ dataDir: join(root, 'ui'), cacheDir, port: 0, dataRoots: [root], offline: true });
  });
  afterAll(async () => {
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });

  /** The dashboard, logged in by its token link, showing a project (and, given one, a run of it). */
  const openProject = async (page: Page, projectId: number, runId?: number): Promise<void> => {
    await page.goto(`${server.url}/dashboard/?token=${server.token}`);
    await page.waitForSelector(`#project-select option[value="${projectId}"]`, { state: 'attached' });
    await page.selectOption('#project-select', String(projectId));
    if (runId !== undefined) await page.getByRole('button', { name: `Open run #${runId}` }).click();
  };

  it('creates a project, trains, updates the curves live, and opens the confusion matrix and a misclassified image', async () => {
    const chromium = await launchChromium();
    try {
      const { page, errors } = await desktopPage(chromium);
      await page.goto(`${server.url}/dashboard/?token=${server.token}`);
      await page.waitForSelector('#runs-table tbody tr');
      expect(await page.locator('#runs-table tbody .status').first().textContent()).toBe('interrupted');

      // A folder outside --data-root: refused, said in a live region, and tied to the folder field until it is edited.
      await page.getByLabel('Name', { exact: true }).fill('shapes');
      await page.getByLabel(/Folder on the server/).fill('/etc');
      await page.getByRole('button', { name: 'Create from folder' }).click();
      await page.waitForFunction("document.getElementById('project-message').classList.contains('error')");
      expect(await failureTie(page, 'Folder on the server (one sub-folder per class)', '#folder-form [name=folder]')).toEqual({ invalid: 'true', description: expect.stringContaining('"/etc" is not inside a data root'), saidIn: ['project-message'] });
      await page.getByLabel(/Folder on the server/).fill(data.root);
      expect(await failureTie(page, 'Folder on the server (one sub-folder per class)', '#folder-form [name=folder]')).toEqual({ saidIn: [] });
      await page.getByRole('button', { name: 'Create from folder' }).click();
      await page.waitForFunction("document.getElementById('project-message').textContent.startsWith('Created project shapes')");
      expect((await page.locator('#class-list li').allTextContents()).map((t) => t.split(':')[0])).toEqual(['circles', 'squares', 'triangles']);

      // A project from uploads: one class at a time through the file input.
      await page.getByLabel('Name for an upload project').fill('uploaded');
      await page.getByRole('button', { name: 'Create empty project for uploads' }).click();
      await page.waitForSelector('#upload-form:not([hidden])');
      // Trained before it has images: refused, said by the button that was pressed, and tied to it.
      await page.getByRole('button', { name: 'Start training' }).click();
      await page.waitForFunction("document.getElementById('run-form-message').classList.contains('error')");
      expect(await failureTie(page, 'Start training', '#run-form button[type=submit]')).toEqual({ description: expect.stringMatching(/has 0 class\(es\) with images/), saidIn: ['run-form-message'] });
      // Not an image: refused, tied to the file field.
      await page.getByLabel('Class', { exact: true }).fill('circles');
      await page.getByLabel('Images of this class').setInputFiles({ name: 'notes.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('not an image') });
      await page.getByRole('button', { name: 'Upload', exact: true }).click();
      await page.waitForFunction("document.getElementById('upload-message').classList.contains('error')");
      expect(await failureTie(page, 'Images of this class', '#upload-form [name=files]')).toEqual({ invalid: 'true', description: expect.stringContaining('notes.jpg'), saidIn: ['upload-message'] });
      for (const label of ['circles', 'squares']) {
        await page.getByLabel('Class', { exact: true }).fill(label);
        await page.getByLabel('Images of this class').setInputFiles(data.files.filter((f) => f.includes(`/train/${label}/`)).slice(0, 3));
        await page.getByRole('button', { name: 'Upload', exact: true }).click();
        await page.waitForFunction(`document.getElementById('upload-message').textContent === 'Uploaded 3 images of ${label}.'`);
      }
      await page.waitForFunction("document.querySelectorAll('#class-list li').length === 2");
      expect(await page.locator('#class-list li').allTextContents()).toEqual(['circles: 3', 'squares: 3']);

      // Back to the folder project for the training run.
      const shapesId = await page.evaluate<string>("[...document.querySelectorAll('#project-select option')].find((o) => o.textContent.startsWith('shapes')).value");
      await page.selectOption('#project-select', shapesId);
      await page.waitForSelector('#upload-form[hidden]', { state: 'attached' });

      // Record every redraw of the loss curve, to see it grow epoch by epoch while the run streams; and every text the
      // run view's live regions take (what a screen reader announces) beside the visible status line's.
      await page.evaluate(`(() => {
        window.__points = [];
        new MutationObserver(() => {
          const path = document.querySelector('#loss-chart path.train');
          if (path) window.__points.push(Number(path.getAttribute('data-points')));
        }).observe(document.getElementById('loss-chart'), { childList: true });
        window.__announced = [];
        window.__shown = [];
        const follow = (node, into) => {
          let last = node.textContent;
          new MutationObserver(() => {
            if (node.textContent !== last && node.textContent) into.push({ text: node.textContent, ms: performance.now() });
            last = node.textContent;
          }).observe(node, { childList: true, characterData: true, subtree: true });
        };
        for (const region of document.querySelectorAll('#run-section :is([aria-live], [role=status], [role=alert])')) follow(region, window.__announced);
        follow(document.getElementById('run-status'), window.__shown);
      })()`);
      // An MLP head (the linear default has no epochs to draw).
      await page.getByLabel('Epochs', { exact: true }).fill('8');
      await page.getByLabel('Hidden units', { exact: true }).fill('256');
      await page.getByLabel('Backbone', { exact: true }).fill('nsfwjs_mobilenet_v2');
      await page.getByRole('button', { name: 'Start training' }).click();
      await page.waitForFunction("document.getElementById('run-section').dataset.status === 'finished'", undefined, { timeout: 60_000 });
      const points = await page.evaluate<number[]>('window.__points');
      expect(new Set(points.filter((n) => n > 0)).size, `the loss curve redrew per epoch: ${points.join(',')}`).toBeGreaterThanOrEqual(2);
      expect(Math.max(...points)).toBeGreaterThanOrEqual(2);
      // The status line showed every event; a screen reader heard each new step (a stage, the end) at once and, within
      // one step, at most one text every 5 s.
      const announced = await page.evaluate<{ text: string; ms: number }[]>('window.__announced');
      const shown = await page.evaluate<{ text: string; ms: number }[]>('window.__shown');
      const said = announced.map((a) => `${Math.round(a.ms)} ms: ${a.text}`).join('\n');
      expect(shown.length, said).toBeGreaterThan(announced.length);
      expect(shown.filter((s) => /epoch \d+: loss/.test(s.text)).length).toBe(8);
      expect(announced.at(-1)?.text, said).toMatch(/^Status: finished/);
      const stage = (text: string): string => /^(?:Status: (?:running, )?)?([^\d:]*)/.exec(text)![1]!.trim();
      const tooSoon = announced.slice(1).filter((a, i) => stage(a.text) === stage(announced[i]!.text) && a.ms - announced[i]!.ms < 4_500);
      expect(tooSoon.map((a) => a.text), said).toEqual([]);

      await page.waitForSelector('#evaluation:not([hidden]) #confusion tbody tr');
      expect(await page.locator('#run-title').textContent()).toMatch(/, 8 epochs max\)$/);
      // The project has val/: those images are what the accuracy is on, and the page says so.
      expect(await page.locator('#evaluation-summary').textContent()).toMatch(/^Accuracy [\d.]+% on \d+ validation images \(95% interval [\d.]+% to [\d.]+%\)\./);
      // Held-out images say how far the model's confidence can be taken at its word, and the planted mistake is among
      // the classes most often confused.
      expect(await page.locator('#evaluation-summary').textContent()).toMatch(/ Mean confidence [\d.]+% \((surer than|less sure than|as sure as) it is right; calibration error [\d.]+%, (within|beyond) chance\)\./);
      expect(await page.locator('#most-confused').textContent()).toMatch(/^Most often confused: .*squares taken for circles \(\d+\)/);
      expect(await page.locator('#confusion tbody tr').count()).toBe(3);
      expect(await page.locator('#per-class tbody tr').count()).toBe(3);
      // The runs table is reloaded after the status event; on a busy machine that lands after the evaluation.
      await page.waitForFunction("document.querySelector('#runs-table tbody .status')?.textContent === 'finished'");
      expect(await page.locator('#runs-table tbody .status').allTextContents()).toEqual(['finished']);

      const planted = page.getByRole('button', { name: /planted-circle\.jpg: true squares, predicted circles/ });
      await planted.scrollIntoViewIfNeeded();
      await page.waitForFunction("[...document.querySelectorAll('#misclassified img')].every((img) => img.complete && img.naturalWidth > 0)");
      await page.screenshot({ path: join(artifactsDir, 'dashboard-1280.png'), fullPage: true });
      await planted.click();
      await page.waitForFunction("document.getElementById('image-dialog').open && document.getElementById('image-dialog-img').naturalWidth > 0");
      expect(await page.locator('#image-dialog-text').textContent()).toContain('Labelled squares; the model says circles');
      await page.screenshot({ path: join(artifactsDir, 'dashboard-dialog-1280.png') });
      await page.getByRole('button', { name: 'Close' }).click();

      // The default run: the linear head, its cross-validation table instead of curves, and (offline, the default
      // backbone not cached) a visible warning that the bundled backbone was used.
      await page.getByLabel('Hidden units', { exact: true }).fill('0');
      await page.getByLabel('Backbone', { exact: true }).fill('');
      await page.getByRole('button', { name: 'Start training' }).click();
      await page.waitForFunction("document.getElementById('run-section').dataset.status === 'finished' && !document.getElementById('selection').hidden", undefined, { timeout: 60_000 });
      expect(await page.locator('#selection-table tbody tr').count()).toBeGreaterThan(1);
      expect(await page.locator('#selection-summary').textContent()).toMatch(/fold cross-validation on the training images only/);
      expect(await page.locator('#run-charts').isHidden()).toBe(true);
      expect(await page.getByRole('alert').textContent()).toMatch(/mobilenet_v2 could not be had/);
      await page.waitForSelector('#evaluation:not([hidden]) #label-issues li');
      // A linear head is solved: its title gives no epoch count (it said '30 epochs max').
      expect(await page.locator('#run-title').textContent()).toMatch(/, linear head\)$/);

      // A refused start is said by the button that started it (it was written in the New project card, out of view).
      await page.getByLabel('Backbone', { exact: true }).fill('no_such_backbone');
      await page.getByRole('button', { name: 'Start training' }).click();
      await page.waitForFunction("document.getElementById('run-form-message').textContent.length > 0");
      expect(await page.locator('#run-form-message').textContent()).toMatch(/no_such_backbone/);
      await page.getByLabel('Backbone', { exact: true }).fill('');

      // The server gone (its event stream refused): said in the page, not left as the last status seen.
      await page.route('**/events', (route) => route.abort());
      await page.getByRole('button', { name: /^Open run #/ }).first().click();
      await page.waitForFunction("document.getElementById('run-status').textContent.startsWith('Lost contact with the server')");
      await page.unroute('**/events');

      await page.setViewportSize({ width: 390, height: 844 });
      await page.screenshot({ path: join(artifactsDir, 'dashboard-390.png'), fullPage: true });
      const overflow = await page.evaluate<boolean>('document.documentElement.scrollWidth > document.documentElement.clientWidth');
      expect(overflow, 'horizontal overflow at 390px').toBe(false);
      expect(errors).toEqual([]);
    } finally {
      await chromium.close();
    }
  });

  it('reveals the fine-tuning options with their checkbox, and cancels a running run from the keyboard', async () => {
    // Images no earlier run has seen (a fresh seed): the run spends seconds extracting their features, so it is still
    // running when the page cancels it (training stops at the next batch, so the unused images cost nothing).
    const fresh = await writeSyntheticDataset(join(root, 'fresh'), { perClass: 40, size: 96, seed: Date.now() % 1_000_000 });
    const project = (await (await fetch(`${server.url}/v1/projects`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${server.token}` }, body: JSON.stringify({ name: 'to cancel', folder: fresh.root }) })).json()) as { id: number };
    const chromium = await launchChromium();
    try {
      const { page, errors } = await desktopPage(chromium);
      await openProject(page, project.id);
      await page.waitForFunction("document.getElementById('class-list').children.length === 3");

      const options = page.locator('#fine-tune-options');
      expect(await options.isVisible()).toBe(false);
      const box = page.getByLabel('Fine-tune the backbone');
      await box.focus();
      await page.keyboard.press('Space');
      expect(await box.isChecked()).toBe(true);
      expect(await options.isVisible()).toBe(true);
      expect(await page.getByLabel('Unfreeze').inputValue()).toBe('last:3');
      expect(await page.getByLabel('Unfreeze').locator('option').evaluateAll((os) => os.map((o) => o.getAttribute("value")))).toEqual(['last:1', 'last:3', 'last:6', 'all']);
      expect(await page.getByLabel('Fine-tuning epochs').inputValue()).toBe('6');
      expect(await page.getByLabel('Augmented views').inputValue()).toBe('2');
      expect(await page.getByLabel('Class weights').inputValue()).toBe('balanced');
      await page.getByLabel('Unfreeze').selectOption('last:1');
      await page.getByLabel('Class weights').selectOption('none');
      await page.getByLabel('Epochs', { exact: true }).fill('500');
      // Corner crops: off unless asked for.
      expect(await page.getByLabel('Try corner crops').isChecked()).toBe(false);
      await page.getByLabel('Try corner crops').check();

      await page.getByRole('button', { name: 'Start training' }).click();
      const cancel = page.locator('#run-section').getByRole('button', { name: /^Cancel run #\d+$/ });
      await cancel.waitFor();
      // The run view says what was asked for.
      expect(await page.locator('#run-options li').allTextContents()).toEqual(expect.arrayContaining(['fine-tune: unfreeze last:1', 'class weights none', '2 augmented views', 'corner crops tried']));
      expect(await page.locator('#fine-tune-legend').isVisible()).toBe(true);
      await page.screenshot({ path: join(artifactsDir, 'dashboard-fine-tune-1280.png'), fullPage: true });
      await cancel.focus();
      await page.keyboard.press('Enter');
      await page.waitForFunction("['finished', 'failed', 'cancelled', 'interrupted'].includes(document.getElementById('run-section').dataset.status)", undefined, { timeout: 30_000 });
      expect(await page.locator('#run-section').getAttribute('data-status'), (await page.locator('#run-status').textContent()) ?? '').toBe('cancelled');
      expect(await page.locator('#run-status').textContent()).toMatch(/^Status: cancelled \(.*no model was written\)$/);
      expect(await cancel.isVisible()).toBe(false);
      await page.waitForFunction("document.querySelector('#runs-table tbody .status')?.textContent === 'cancelled'");
      expect(await page.locator('#runs-table tbody tr').first().textContent()).toContain('fine-tune');
      await page.screenshot({ path: join(artifactsDir, 'dashboard-cancelled-1280.png'), fullPage: true });
      await page.setViewportSize({ width: 390, height: 844 });
      await page.screenshot({ path: join(artifactsDir, 'dashboard-cancelled-390.png'), fullPage: true });
      expect(await page.evaluate<boolean>('document.documentElement.scrollWidth > document.documentElement.clientWidth'), 'horizontal overflow at 390px').toBe(false);

      // After a restart the run is still shown as cancelled (not interrupted).
      const runs = server.dashboard.store.runs(project.id);
      expect(runs.map((r) => r.status)).toEqual(['cancelled']);
      expect(errors).toEqual([]);
    } finally {
      await chromium.close();
    }
  });

  it("downloads a finished run's files, tries it, and deletes it once the user confirms, from the keyboard; names, contrast (light and dark) and focus hold", async () => {
    const auth = { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' };
    const project = (await (await fetch(`${server.url}/v1/projects`, { method: 'POST', headers: auth, body: JSON.stringify({ name: 'to download', folder: data.root }) })).json()) as { id: number };
    const run = (await (await fetch(`${server.url}/v1/projects/${project.id}/runs`, { method: 'POST', headers: auth, body: JSON.stringify({ backbone: 'nsfwjs_mobilenet_v2' }) })).json()) as { id: number; modelDir: string };
    await (await fetch(`${server.url}/v1/runs/${run.id}/events`, { headers: auth })).text(); // ends with the run
    expect(server.dashboard.store.run(run.id)!.status).toBe('finished');
    const chromium = await launchChromium();
    try {
      const { page, errors } = await desktopPage(chromium);
      await openProject(page, project.id, run.id);
      // Open run takes focus to the run view it opened (a keyboard or screen-reader user was left on the button).
      await page.waitForFunction("document.activeElement?.id === 'run-title'");
      expect(await page.locator('#run-title').textContent()).toMatch(new RegExp(`^Run #${run.id} `));
      await page.waitForFunction("document.getElementById('run-section').dataset.status === 'finished'");
      // A reload comes back to the project and the run (it showed the newest project, no run open).
      expect(new URL(page.url()).hash).toBe(`#project=${project.id}&run=${run.id}`);
      await page.reload();
      await page.waitForFunction("document.getElementById('run-section').dataset.status === 'finished'");
      expect(await page.locator('#run-title').textContent()).toMatch(new RegExp(`^Run #${run.id} `));
      expect(await page.locator('#project-select').inputValue()).toBe(String(project.id));
      expect(await page.locator('#run-downloads').isVisible()).toBe(true);
      expect(await page.locator('#run-section').getByRole('button', { name: /^Cancel run/ }).isVisible()).toBe(false);
      // The planted circle among the mistakes: the confusion matrix has right and wrong cells.
      await page.waitForSelector('#evaluation:not([hidden]) #misclassified button');
      for (const colorScheme of ['dark', 'light'] as const) {
        await page.emulateMedia({ colorScheme });
        expect.soft(await contrastProblems(page), colorScheme).toEqual([]);
      }
      // Every action of the run view is on a Tab walk in page order, visibly focused; the keyboard operates each below.
      const walk = await tabThrough(page);
      expect.soft(focusProblems(walk)).toEqual([]);
      const actions = ['button "Start training"', `button "Open run #${run.id}"`, `button#delete-run "Delete run #${run.id}"`, 'a#download-onnx "model.onnx"', 'a#download-manifest "graft.json"', 'a#download-teachable-machine "Teachable Machine model (.zip)"', 'input#try-file', 'button#try-webcam "Use webcam"'];
      expect(walk.stops.map((s) => s.what).filter((w) => actions.includes(w))).toEqual(actions);
      expect(walk.stops.some((s) => /^button "Open .+: true /.test(s.what)), 'a misclassified image on the walk').toBe(true);

      for (const [link, name, file] of [['model.onnx', `to-download-run${run.id}.onnx`, 'model.onnx'], ['graft.json', `to-download-run${run.id}.graft.json`, 'graft.json']] as const) {
        await page.getByRole('link', { name: link, exact: true }).focus();
        const [download] = await Promise.all([page.waitForEvent('download'), page.keyboard.press('Enter')]);
        expect(download.suggestedFilename()).toBe(name);
        expect((await readFile((await download.path())!)).equals(await readFile(join(run.modelDir, file))), file).toBe(true);
      }
      // Made on the first download (seconds; its content is tested in dashboard-api.slow.test.ts).
      expect(await page.getByRole('link', { name: 'Teachable Machine model (.zip)' }).getAttribute('href')).toBe(`${server.url}/v1/runs/${run.id}/teachable-machine.zip`);

      // Try the model: an image chosen in the page comes back as one bar per class, most likely first, as the model
      // itself answers in Node.
      expect(await page.locator('#try-model').isVisible()).toBe(true);
      const triangle = data.files.find((f) => f.includes('/val/triangles/'))!;
      const model = await GraftModel.load(run.modelDir);
      const expected = (await model.predict([triangle])).results[0]!.predictions;
      await model.dispose();
      // Space on the file control opens the chooser; the top class is said in the live region, the bars are named meters.
      await page.focus('#try-file');
      await chooseFilesWithKey(page, 'Space', triangle);
      await page.waitForFunction("document.querySelectorAll('#try-results li').length === 3");
      expect(await page.locator('#try-results .try-label').allTextContents()).toEqual(expected.map((p) => p.label));
      const tree = await accessibilityTree(page);
      expect(tree.filter((n) => n.role === 'meter').map((n) => n.name)).toEqual(expected.map((p) => `${p.label}: ${(p.probability * 100).toFixed(1)}%`));
      expect(tree.filter((n) => n.role === 'status' && n.live === 'polite').length).toBeGreaterThanOrEqual(4);
      expect.soft(await namingProblems(page)).toEqual([]);
      expect(await page.locator('#try-results .try-value').allTextContents()).toEqual(expected.map((p) => `${(p.probability * 100).toFixed(1)}%`));
      expect(await page.locator('#try-message').textContent()).toMatch(new RegExp(`^${basename(triangle).replace('.', '\\.')}: ${expected[0]!.label} \\(\\d+ ms on the server\\)$`));
      expect(await page.locator('#try-preview').isVisible()).toBe(true);
      await page.locator('#try-model').screenshot({ path: join(artifactsDir, 'dashboard-try-model-1280.png') });
      // Not an image: said in the panel, nothing breaks.
      await page.setInputFiles('#try-file', { name: 'notes.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('not an image') });
      await page.waitForFunction("document.getElementById('try-message').classList.contains('error')");
      expect(await page.locator('#try-message').textContent()).toMatch(/^notes\.jpg could not be classified: /);
      expect(await page.locator('#try-preview').isVisible()).toBe(false);
      await page.setViewportSize({ width: 390, height: 900 });
      expect(await page.evaluate('document.documentElement.scrollWidth > document.documentElement.clientWidth')).toBe(false);
      await page.screenshot({ path: join(artifactsDir, 'dashboard-try-model-390.png'), fullPage: true });
      await page.setViewportSize({ width: 1280, height: 900 });

      // Live, from a (fake) webcam: the bars follow its frames until the camera is turned off, which stops it.
      const camera = await launchChromium(['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream']);
      try {
        const live = await camera.browser.newPage();
        live.on('pageerror', (e) => errors.push(e.message));
        // Every stream the page is given, kept; window.__cameraDelayMs makes the camera answer that much later.
        await live.addInitScript(`(() => { window.__streams = []; window.__cameraDelayMs = 0; const d = navigator.mediaDevices; if (!d) return;
          const original = d.getUserMedia.bind(d); d.getUserMedia = async (c) => { await new Promise((r) => setTimeout(r, window.__cameraDelayMs));
            const s = await original(c); window.__streams.push(s); return s; }; })()`);
        await openProject(live, project.id, run.id);
        await live.waitForFunction("document.getElementById('run-section').dataset.status === 'finished'");
        await live.getByRole('button', { name: 'Use webcam' }).click();
        await live.waitForFunction("/^webcam: /.test(document.getElementById('try-message').textContent) && document.querySelectorAll('#try-results li').length === 3", undefined, { timeout: 20_000 });
        expect(await live.locator('#try-video').isVisible()).toBe(true);
        expect(await live.evaluate<string[]>('window.__streams.flatMap((s) => s.getTracks().map((t) => t.readyState))')).toEqual(['live']);
        await live.getByRole('button', { name: 'Stop webcam' }).click();
        expect(await live.locator('#try-message').textContent()).toBe('Camera off.');
        expect(await live.evaluate<string[]>('window.__streams.flatMap((s) => s.getTracks().map((t) => t.readyState))')).toEqual(['ended']);
        expect(await live.locator('#try-video').isVisible()).toBe(false);

        // Hidden (another tab) with a frame on its way: the camera stops, no frame is sent, and the late answer is
        // dropped, so the panel says why the camera stopped. Visible again, it starts only when asked.
        const states = (): Promise<string[]> => live.evaluate<string[]>('window.__streams.flatMap((s) => s.getTracks().map((t) => t.readyState))');
        const frames: string[] = [];
        live.on('request', (request) => void (request.url().endsWith('/predict') && frames.push(request.url())));
        await live.route('**/predict', async (route) => {
          await new Promise((resolve) => setTimeout(resolve, 500)); // each answer in flight for half a second
          await route.continue();
        });
        const stoppedWhileHidden = 'The camera was stopped while the page was hidden. Press Use webcam to go on.';
        await live.getByRole('button', { name: 'Use webcam' }).click();
        await live.waitForFunction("/^webcam: /.test(document.getElementById('try-message').textContent)", undefined, { timeout: 20_000 });
        await live.waitForEvent('request', (request) => request.url().endsWith('/predict'));
        await setPageHidden(live, true);
        const sentBeforeHidden = frames.length;
        expect(await states()).toEqual(['ended', 'ended']);
        expect(await live.locator('#try-webcam').textContent()).toBe('Use webcam');
        await live.waitForTimeout(1_200); // the answer lands; 2 more frames would have gone, 400 ms apart
        expect(frames.length).toBe(sentBeforeHidden);
        expect(await live.locator('#try-message').textContent()).toBe(stoppedWhileHidden);
        await setPageHidden(live, false);
        expect(await states()).toEqual(['ended', 'ended']);
        // Hidden while the camera is being asked for: the camera it gives is stopped, never left running.
        await live.evaluate('window.__cameraDelayMs = 600');
        await live.getByRole('button', { name: 'Use webcam' }).click();
        await setPageHidden(live, true);
        await live.waitForFunction('window.__streams.length === 3');
        await setPageHidden(live, false);
        expect(await states()).toEqual(['ended', 'ended', 'ended']);
        expect(await live.locator('#try-message').textContent()).toBe(stoppedWhileHidden);
        await live.evaluate('window.__cameraDelayMs = 0');
        await live.getByRole('button', { name: 'Use webcam' }).click();
        await live.waitForFunction("/^webcam: /.test(document.getElementById('try-message').textContent) && document.querySelectorAll('#try-results li').length === 3", undefined, { timeout: 20_000 });
        expect(await states()).toEqual(['ended', 'ended', 'ended', 'live']);
        await live.getByRole('button', { name: 'Stop webcam' }).click();
        expect(await states()).toEqual(['ended', 'ended', 'ended', 'ended']);
      } finally {
        await camera.close();
      }

      // A mistake's dialog takes focus in, Escape closes it, and focus is back on the mistake that opened it.
      const opener = page.locator('#misclassified button').first();
      await opener.focus();
      await page.keyboard.press('Enter');
      await page.waitForFunction("document.getElementById('image-dialog').open");
      expect(await page.evaluate<boolean>("document.getElementById('image-dialog').contains(document.activeElement)")).toBe(true);
      await page.keyboard.press('Escape');
      expect(await page.evaluate<boolean>("document.activeElement === document.querySelector('#misclassified button')")).toBe(true);

      const remove = page.locator('#run-section').getByRole('button', { name: `Delete run #${run.id}` });
      // Dismissed: nothing happens.
      const asked: string[] = [];
      page.once('dialog', (dialog) => {
        asked.push(dialog.message());
        void dialog.dismiss();
      });
      await remove.click();
      await page.waitForTimeout(300);
      expect(asked).toEqual([expect.stringMatching(new RegExp(`^Delete run #${run.id}.*cannot be undone`))]);
      expect(server.dashboard.store.run(run.id)).toBeDefined();
      expect(existsSync(run.modelDir)).toBe(true);
      // Confirmed (from the keyboard): the run, its row and its folder go, and the run view closes; focus goes to the
      // runs it was deleted from, not back to the top of the page.
      page.once('dialog', (dialog) => void dialog.accept());
      await remove.focus();
      await page.keyboard.press('Enter');
      await page.waitForSelector('#run-section', { state: 'hidden' });
      expect(await page.evaluate<string>('document.activeElement.id')).toBe('runs-title');
      await page.waitForFunction(`!document.querySelector('#runs-table tbody tr[data-run="${run.id}"]')`);
      expect(await page.locator('#run-form-message').textContent()).toBe(`Deleted run #${run.id}.`);
      expect(server.dashboard.store.run(run.id)).toBeUndefined();
      expect(existsSync(join(run.modelDir, '..'))).toBe(false);
      await page.screenshot({ path: join(artifactsDir, 'dashboard-deleted-run-1280.png'), fullPage: true });
      expect(errors).toEqual([]);
    } finally {
      await chromium.close();
    }
  });

  it("relabels a label issue of an upload project from the keyboard: the item says so, the file moves; a folder project's are left to the user", async () => {
    const auth = { authorization: `Bearer ${server.token}` };
    const project = (await (await fetch(`${server.url}/v1/projects`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'to fix' }) })).json()) as { id: number; dataDir: string };
    const circles = data.files.filter((f) => f.includes('/train/circles/'));
    const squares = data.files.filter((f) => f.includes('/train/squares/'));
    // A circle uploaded among the squares, twice (the second copy deleted behind the page's back).
    for (const [label, files] of [['circles', circles.slice(0, 3)], ['squares', [...squares.slice(0, 3), circles[3]!, circles[4]!]]] as const) {
      const form = new FormData();
      form.append('label', label);
      for (const file of files) form.append('files', new Blob([await readFile(file)], { type: 'image/jpeg' }), basename(file));
      expect((await fetch(`${server.url}/v1/projects/${project.id}/images`, { method: 'POST', headers: auth, body: form })).status).toBe(201);
    }
    const [planted, deleted] = await Promise.all([circles[3]!, circles[4]!].map(storedNameOf));
    // A finished run's stored evaluation, as a run of this project leaves it (the API test trains one for real).
    const { store } = server.dashboard;
    const evaluationWith = (labelIssues: { file: string; given: string; predicted: string; confidence: number }[]) => ({
      dataset: project.dataDir, onTrainingImages: true, count: 8, accuracy: 0.75, labels: ['circles', 'squares'], confusion: [[3, 0], [2, 3]],
      perClass: { circles: { precision: 0.6, recall: 1, f1: 0.75, support: 3 }, squares: { precision: 1, recall: 0.6, f1: 0.75, support: 5 } }, misclassified: [], labelIssues,
    });
    const run = store.createRun(project.id, { epochs: 30, hidden: 0, backbone: 'nsfwjs_mobilenet_v2' }, (id) => join(root, 'ui', 'runs', String(id), 'model'));
    store.markFinished(run.id, {});
    store.saveEvaluation(run.id, evaluationWith([planted!, deleted!].map((name) => ({ file: join(project.dataDir, 'squares', name), given: 'squares', predicted: 'circles', confidence: 0.9 }))));
    await rm(join(project.dataDir, 'squares', deleted!));
    const chromium = await launchChromium();
    try {
      const { page, errors } = await desktopPage(chromium);
      await openProject(page, project.id, run.id);
      const relabel = page.getByRole('button', { name: `Relabel as circles: ${planted}` });
      await relabel.waitFor();
      expect(await page.locator('#label-issues-own').isVisible()).toBe(false);
      expect(await page.locator('#label-fixes-note').isVisible()).toBe(false);
      expect.soft(await namingProblems(page)).toEqual([]);
      expect.soft(await contrastProblems(page)).toEqual([]);
      // The image's dialog points at those buttons, not at the folder the dashboard keeps.
      await page.locator('#label-issues li').first().locator('button').first().click();
      expect(await page.locator('#image-dialog-text').textContent()).toContain('relabel the image or remove it with the buttons under it');
      await page.keyboard.press('Escape');

      // A refusal (the image went since the evaluation) is said in its item, tied to the button; the buttons stay.
      page.once('dialog', (dialog) => void dialog.accept());
      await page.getByRole('button', { name: `Remove image: ${deleted}` }).click();
      await page.waitForFunction("document.getElementById('label-fix-1').classList.contains('error')");
      expect(await failureTie(page, `Remove image: ${deleted}`, '#label-issues li:nth-child(2) button.danger')).toEqual({ description: expect.stringMatching(/is no longer in class "squares": it was moved or deleted since the run was evaluated/), saidIn: ['label-fix-1'] });

      await relabel.focus();
      await page.keyboard.press('Enter');
      await page.waitForFunction("document.getElementById('label-fix-0').textContent === 'Moved to circles.'");
      // Its buttons gone, focus on what was done; the note says the results are of the images before, with a way to train again.
      expect(await page.locator('#label-issues li').first().getByRole('button', { name: /^(Relabel|Remove)/ }).count()).toBe(0);
      expect(await page.evaluate<string>('document.activeElement.id')).toBe('label-fix-0');
      expect(await page.locator('#label-fixes-note').textContent()).toMatch(/describe the images before your changes: train again/);
      expect(await page.getByRole('button', { name: 'Train again' }).isVisible()).toBe(true);
      expect([existsSync(join(project.dataDir, 'circles', planted!)), existsSync(join(project.dataDir, 'squares', planted!))]).toEqual([true, false]);
      await page.waitForFunction("[...document.querySelectorAll('#class-list li')].map((li) => li.textContent).join() === 'circles: 4,squares: 3'");
      await page.locator('#label-issues').screenshot({ path: join(artifactsDir, 'dashboard-label-fixed-1280.png') });
      // Opened again (a reload, another tab): the item says what was done, without its buttons, and the note stays.
      await openProject(page, project.id, run.id);
      await page.waitForFunction("document.getElementById('label-fix-0')?.textContent === 'Moved to circles.'");
      expect(await page.locator('#label-issues li').first().getByRole('button', { name: /^(Relabel|Remove)/ }).count()).toBe(0);
      expect(await page.locator('#label-fixes-note').isVisible()).toBe(true);
      expect(await page.getByRole('button', { name: `Relabel as circles: ${deleted}` }).isVisible()).toBe(true);
      // Train again starts the shown run's options, whatever the form was left holding (then cancelled: not this test's).
      await page.fill('#run-form input[name="epochs"]', '7');
      await page.fill('#run-form input[name="hidden"]', '5');
      const before = store.runs(project.id).length;
      await page.getByRole('button', { name: 'Train again' }).click();
      await expect.poll(() => store.runs(project.id).length).toBe(before + 1);
      const again = store.runs(project.id).find((r) => r.id !== run.id && !['finished', 'failed', 'cancelled', 'interrupted'].includes(r.status)) ?? store.runs(project.id)[0]!;
      expect(again.options).toMatchObject({ epochs: 30, hidden: 0, backbone: 'nsfwjs_mobilenet_v2' });
      await fetch(`${server.url}/v1/runs/${again.id}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${server.token}`, 'x-graft-request': '1' } });
      await expect.poll(() => ['finished', 'failed', 'cancelled'].includes(store.run(again.id)!.status), { timeout: 30_000 }).toBe(true);

      // A folder project: no buttons; the images are the user's own, and each says where it is in their folder.
      const folderProject = store.createProject('own labels', data.root);
      const own = data.files.find((f) => f.includes('/train/squares/'))!;
      const ownRun = store.createRun(folderProject.id, { epochs: 30, hidden: 0, backbone: 'nsfwjs_mobilenet_v2' }, (id) => join(root, 'ui', 'runs', String(id), 'model'));
      store.markFinished(ownRun.id, {});
      store.saveEvaluation(ownRun.id, evaluationWith([{ file: own, given: 'squares', predicted: 'circles', confidence: 0.9 }]));
      await openProject(page, folderProject.id, ownRun.id);
      await page.waitForSelector('#label-issues-own:not([hidden])');
      expect(await page.locator('#label-issues li').textContent()).toContain(`in your folder: train/squares/${basename(own)}`);
      expect(await page.locator('#label-issues').getByRole('button', { name: /^(Relabel|Remove)/ }).count()).toBe(0);
      // A file name is one long word: it wraps in its item rather than run past it (and off a phone's screen).
      await page.setViewportSize({ width: 390, height: 844 });
      expect(await page.evaluate<string[]>("[...document.querySelectorAll('#label-issues li > :is(p, span)')].filter((e) => e.scrollWidth > e.clientWidth).map((e) => e.textContent)")).toEqual([]);
      expect(await page.evaluate<boolean>('document.documentElement.scrollWidth > document.documentElement.clientWidth'), 'horizontal overflow at 390px').toBe(false);
      expect(errors).toEqual([]);
    } finally {
      await chromium.close();
    }
  });

  it('draws the fine-tuning epochs after a "fine-tuning starts" marker', async () => {
    // A stored run with both phases (the curves come from the store; no training needed).
    const { store } = server.dashboard;
    // A name with "folder" in it: a refusal of the name is still tied to the name field.
    const project = store.createProject('Phases folder', data.root);
    // An MLP head (a linear head is solved, with no epochs to draw).
    const run = store.createRun(project.id, { epochs: 4, hidden: 16, backbone: 'nsfwjs_mobilenet_v2', fineTune: { unfreeze: 'last:3', epochs: 3, views: 2, classWeights: 'none' } }, (id) => join(root, 'ui', 'runs', String(id)));
    store.markRunning(run.id);
    // Epoch 2 has no validation scores: a gap in the curves, 'n/a' in their tables.
    for (let e = 1; e <= 4; e++) store.addEpoch(run.id, 'head', e, { loss: 1.2 - e * 0.15, acc: 0.4 + e * 0.08, ...(e === 2 ? {} : { val_loss: 1.25 - e * 0.12, val_acc: 0.38 + e * 0.07 }) });
    for (let e = 1; e <= 3; e++) store.addEpoch(run.id, 'fine-tune', e, { loss: 0.5 - e * 0.08, acc: 0.78 + e * 0.05, val_loss: 0.62 - e * 0.06, val_acc: 0.7 + e * 0.06 });
    const chosen = { head: 'linear', trainViews: 'plain+flip', tta: true, c: 0.1, accuracy: 0.9, logLoss: 0.3 };
    store.markFinished(run.id, {
      val: { accuracy: 0.88, loss: 0.44, count: 9 },
      selection: { folds: 3, criterion: 'log-loss', chosen, table: [chosen], classWeighted: true },
      fineTune: {
        firstEpoch: 5,
        bestEpoch: 2,
        kept: 'head',
        // Clearly better on the first fifth, with too few images of a class there; no epoch beat the head on a second.
        holdout: { images: 12, headLoss: 0.25, bestLoss: 0.18, headAccuracy: 11 / 12, bestAccuracy: 1, t: -2.5, again: { images: 11, headLoss: 0.3, bestLoss: null, startingHeadLoss: 0.2535 } },
      },
    });
    const chromium = await launchChromium();
    try {
      const { page, errors } = await desktopPage(chromium);
      await openProject(page, project.id, run.id);
      await page.waitForFunction("document.getElementById('loss-chart').dataset.epochs === '7'");
      // Stored without an evaluation: the run view says there is none, throws nothing, and shows the rest.
      await page.waitForSelector('#evaluation-missing:not([hidden])');
      expect(await page.locator('#evaluation-missing').textContent()).toMatch(new RegExp(`^No evaluation to show: Run ${run.id} has no evaluation`));
      expect(await page.locator('#evaluation').isVisible()).toBe(false);
      // Its API answer says waiting will not bring one (before: "a run is evaluated when it finishes", for a finished run).
      const answer = (await page.evaluate(async (id) => (await fetch(`/v1/runs/${id}/evaluation`)).json(), run.id)) as { error: { code: string; hint?: string } };
      expect(answer.error).toMatchObject({ code: 'NOT_FOUND', hint: 'this run was stored without one: start the run again to have one' });
      for (const chart of ['#loss-chart', '#acc-chart']) {
        expect(await page.locator(`${chart} .ft-marker`).count()).toBe(1);
        expect(await page.locator(`${chart} text.ft-label`).textContent()).toBe('fine-tuning starts');
        expect(await page.locator(`${chart} path.train.ft`).getAttribute('data-points')).toBe('3');
        expect(await page.locator(`${chart} path.train:not(.ft)`).getAttribute('data-points')).toBe('4');
        expect(await page.locator(chart).getAttribute('aria-label')).toContain('fine-tuning from epoch 5');
      }
      // Each chart's points as a table, opened from the keyboard and read through the accessibility tree: the run's
      // numbers as the chart writes them, the fine-tuning epochs said.
      type Epoch = { epoch: number; phase: string; loss: number; acc: number; val_loss?: number | null; val_acc?: number | null };
      const stored = (await (await fetch(`${server.url}/v1/runs/${run.id}`, { headers: { authorization: `Bearer ${server.token}` } })).json()) as { epochs: Epoch[] };
      expect(stored.epochs).toHaveLength(7);
      for (const summary of await page.locator('#run-charts summary').all()) {
        await summary.focus();
        await page.keyboard.press('Enter');
      }
      const tables = new Map((await accessibleTables(page)).map((t) => [t.name, t.rows]));
      const written = (value: number | null | undefined, isPercent: boolean): string => (typeof value !== 'number' ? 'n/a' : isPercent ? `${(value * 100).toFixed(1)}%` : value.toFixed(3));
      for (const [caption, metric, train, val] of [['Loss per epoch', 'loss', 'loss', 'val_loss'], ['Accuracy per epoch', 'accuracy', 'acc', 'val_acc']] as const) {
        expect(tables.get(caption), caption).toEqual([
          ['Epoch', `Train ${metric}`, `Held-out ${metric}`].map((name) => ({ role: 'columnheader', name })),
          ...stored.epochs.map((e) => [
            { role: 'rowheader', name: `${e.epoch}${e.phase === 'fine-tune' ? ' (fine-tuning)' : ''}` },
            { role: 'cell', name: written(e[train], train === 'acc') },
            { role: 'cell', name: written(e[val], train === 'acc') },
          ]),
        ]);
      }
      expect(tables.get('Loss per epoch')![2]![2]).toEqual({ role: 'cell', name: 'n/a' });
      expect(tables.get('Accuracy per epoch')![5]![0]).toEqual({ role: 'rowheader', name: '5 (fine-tuning)' });
      expect.soft(await namingProblems(page)).toEqual([]);
      for (const colorScheme of ['dark', 'light'] as const) {
        await page.emulateMedia({ colorScheme });
        expect.soft(await contrastProblems(page), colorScheme).toEqual([]);
      }
      expect(await page.locator('#runs-table tbody tr').first().textContent()).toContain('7 / 7');
      // A second project of its name (case and spaces aside) is refused, said in the live region, and tied to the
      // name field, not to the folder, in either form.
      for (const [form, field, button] of [['folder-form', 'Name', 'Create from folder'], ['upload-project-form', 'Name for an upload project', 'Create empty project for uploads']] as const) {
        await page.evaluate("document.getElementById('project-message').textContent = ''");
        await page.getByLabel(field, { exact: true }).fill('  PHASES folder ');
        if (form === 'folder-form') await page.getByLabel(/Folder on the server/).fill(data.root);
        await page.getByRole('button', { name: button }).click();
        await page.waitForFunction("document.getElementById('project-message').classList.contains('error')");
        expect(await failureTie(page, field, `#${form} [name=name]`), form).toEqual({ invalid: 'true', description: `The name "PHASES folder" is taken by project #${project.id} ("Phases folder"); project names differ by more than case and spaces. (choose another name, or use project #${project.id})`, saidIn: ['project-message'] });
        if (form === 'folder-form') expect(await failureTie(page, 'Folder on the server (one sub-folder per class)', '#folder-form [name=folder]')).toEqual({ saidIn: [] });
      }
      expect(store.projects().filter((p) => p.name.toLowerCase() === 'phases folder')).toHaveLength(1);
      expect(await page.locator('#fine-tune-legend').textContent()).toContain('fine-tuning starts');
      // What the model holds, and the held-out comparison that decided it; the class-weighted scores are said.
      const outcome = page.locator('#fine-tune-outcome');
      expect(await outcome.isVisible()).toBe(true);
      expect(await outcome.textContent()).toBe(
        "The model is the head alone: fine-tuning did not clearly beat it (lower log-loss by two standard errors, and no fewer images right). On 12 held-out training images: log-loss 0.180 against the head's 0.250, accuracy 100.0% against 91.7%; again on 11 others: no fine-tuning epoch beat the log-loss 0.2535 of epoch 0, the one-scale head it started from (the head alone's: 0.3000).",
      );
      expect(await page.locator('#selection-summary').textContent()).toContain('Scores weigh every class alike');
      await page.locator('#run-section').screenshot({ path: join(artifactsDir, 'dashboard-fine-tune-curves-1280.png') });
      await page.setViewportSize({ width: 390, height: 844 });
      await page.locator('#run-section').screenshot({ path: join(artifactsDir, 'dashboard-fine-tune-curves-390.png') });
      expect(errors).toEqual([]);
    } finally {
      await chromium.close();
    }
  });
});
