import { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSyntheticDataset, type SyntheticDataset } from '../../src/data/synthetic.js';
import { startDashboardServer } from '../../src/serve/dashboard/start-dashboard-server.js';
import { tempDir } from '../support.js';
import { failureTie, namingProblems } from '../web/page-accessibility.js';
import { artifactsDir, chromiumSkipReason, hasChromium, launchChromium, setPageHidden } from '../web/web-support.js';

if (!hasChromium) chromiumSkipReason('dashboard webcam browser test');

/** Chromium's synthetic camera (a moving test pattern, 640 x 480), granted without asking. */
const FAKE_CAMERA = ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'];
/** Every stream the page is given, kept where the test can see whether its tracks were stopped. */
const RECORD_STREAMS = `(() => {
  window.__streams = [];
  const devices = navigator.mediaDevices;
  if (!devices) return;
  const original = devices.getUserMedia.bind(devices);
  devices.getUserMedia = async (constraints) => {
    const stream = await original(constraints);
    window.__streams.push(stream);
    return stream;
  };
})()`;
const INTERVAL_MS = 120;

type Server = Awaited<ReturnType<typeof startDashboardServer>>;

describe.skipIf(!hasChromium)('webcam samples on the training dashboard (src/web/dashboard/webcam-samples.js) in headless Chromium', () => {
  let root: string;
  let data: SyntheticDataset;
  let server: Server;
  /** Uploads of more than 2 KB refused (413), and answering to graft.test, a name that is not a secure context. */
  let strict: Server;
  beforeAll(async () => {
    root = await tempDir('graft-dashboard-webcam-');
    data = await writeSyntheticDataset(join(root, 'shapes'), { perClass: 2 });
    server = await startDashboardServer({ dataDir: join(root, 'ui'), port: 0, offline: true });
    strict = await startDashboardServer({ dataDir: join(root, 'strict'), port: 0, offline: true, maxUploadBytes: 2048, allowedHosts: ['graft.test'] });
  });
  afterAll(async () => {
    await server?.close();
    await strict?.close();
    await rm(root, { recursive: true, force: true });
  });

  const createUploadProject = async (on: Server, name: string): Promise<{ id: number; dataDir: string }> =>
    (await (await fetch(`${on.url}/v1/projects`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${on.token}` }, body: JSON.stringify({ name }) })).json()) as { id: number; dataDir: string };

  const openProject = async (page: Page, url: string, token: string, projectId: number): Promise<void> => {
    await page.goto(`${url}/dashboard/?token=${token}`);
    await page.waitForSelector(`#project-select option[value="${projectId}"]`, { state: 'attached' });
    await page.selectOption('#project-select', String(projectId));
    await page.waitForSelector('#upload-form:not([hidden])');
  };

  const cameraReady = "!document.getElementById('webcam-record').disabled && document.getElementById('webcam-video').videoWidth > 0";
  const samplesTaken = async (page: Page): Promise<number> => Number(/^(\d+) samples? taken$/.exec((await page.locator('#webcam-count').textContent()) ?? '')?.[1] ?? 0);
  const jpegsIn = async (dir: string): Promise<string[]> => (existsSync(dir) ? (await readdir(dir)).filter((f) => f.endsWith('.jpg')) : []);

  it('records while the button is held (mouse, then Space), uploads the square samples into the class, stops recording and the camera while the page is hidden, and on close', async () => {
    const project = await createUploadProject(server, 'webcam');
    const chromium = await launchChromium(FAKE_CAMERA);
    try {
      const page = await chromium.browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.addInitScript(RECORD_STREAMS);
      await page.setViewportSize({ width: 1280, height: 900 });
      await openProject(page, server.url, server.token, project.id);

      // A new class: named in the Class field, then the Webcam button.
      await page.getByLabel('Class', { exact: true }).fill('faces');
      const opener = page.getByRole('button', { name: 'Webcam', exact: true });
      expect(await opener.getAttribute('aria-expanded')).toBe('false');
      await opener.click();
      await page.waitForFunction(cameraReady);
      expect(await opener.getAttribute('aria-expanded')).toBe('true');
      expect(await page.locator('#webcam-message').textContent()).toBe('Camera on. Hold to record samples of “faces”.');
      // One synthetic camera: no picker. Not a back camera: the preview is mirrored.
      expect(await page.locator('#webcam-camera-choice').isHidden()).toBe(true);
      expect(await page.locator('#webcam-video').getAttribute('class')).toContain('mirrored');

      // Held with the mouse for about a second.
      const record = page.getByRole('button', { name: 'Hold to record' });
      await record.hover();
      const pressed = Date.now();
      await page.mouse.down();
      await page.waitForTimeout(1000);
      expect(await record.getAttribute('aria-pressed')).toBe('true');
      await page.mouse.up();
      const heldMs = Date.now() - pressed;
      await page.waitForFunction("document.getElementById('webcam-message').textContent.startsWith('Saved ')", undefined, { timeout: 30_000 });
      const first = await samplesTaken(page);
      // One at the press, then one every 120 ms; a busy machine may fire the timer late, never early.
      expect(first, `held ${heldMs} ms`).toBeGreaterThanOrEqual(4);
      expect(first, `held ${heldMs} ms`).toBeLessThanOrEqual(Math.floor(heldMs / INTERVAL_MS) + 2);
      expect(await page.locator('#webcam-message').textContent()).toBe(`Saved ${first} samples of “faces”.`);
      expect(await page.locator('#webcam-thumbs img').count()).toBe(first);
      const facesDir = join(project.dataDir, 'faces');
      const saved = await jpegsIn(facesDir);
      expect(saved).toHaveLength(first);
      for (const file of saved) {
        const meta = await sharp(join(facesDir, file)).metadata();
        expect([meta.format, meta.width, meta.height], file).toEqual(['jpeg', 256, 256]);
      }
      // Saved as the camera sees it, not as the mirrored preview shows it: the synthetic frame's clock is written
      // from its left edge, so the top band of a sample is brighter on the left than on the right.
      const band = async (left: number): Promise<number> => {
        const { data: rgb } = await sharp(join(facesDir, saved[0]!)).extract({ left, top: 8, width: 96, height: 28 }).raw().toBuffer({ resolveWithObject: true });
        return rgb.reduce((sum, v) => sum + v, 0) / rgb.length;
      };
      expect(await band(0), 'the clock (top left of the camera frame)').toBeGreaterThan((await band(160)) + 5);
      await page.waitForFunction(`[...document.querySelectorAll('#class-list li')].some((li) => li.textContent === 'faces: ${first}')`);

      // Held from the keyboard: Space down, Space up.
      await record.focus();
      await page.keyboard.down('Space');
      await page.waitForTimeout(600);
      expect(await record.getAttribute('aria-pressed')).toBe('true');
      await page.keyboard.up('Space');
      await page.waitForFunction(`document.getElementById('webcam-message').textContent.startsWith('Saved ') && document.getElementById('webcam-record').getAttribute('aria-pressed') === 'false' && !document.getElementById('webcam-record').disabled`, undefined, { timeout: 30_000 });
      const second = await samplesTaken(page);
      expect(second).toBeGreaterThanOrEqual(2);
      expect(await jpegsIn(facesDir)).toHaveLength(first + second);

      // Hidden (another tab) while the button is held: the recording ends and the camera is released at once.
      const trackStates = (): Promise<string[]> => page.evaluate<string[]>('window.__streams.flatMap((s) => s.getTracks().map((t) => t.readyState))');
      await record.focus();
      await page.keyboard.down('Space');
      await page.waitForTimeout(5 * INTERVAL_MS);
      expect(await record.getAttribute('aria-pressed')).toBe('true');
      await setPageHidden(page, true);
      expect(await trackStates()).toEqual(['ended']);
      expect(await page.evaluate<boolean>("document.getElementById('webcam-video').srcObject === null")).toBe(true);
      expect(await page.locator('#webcam-record').getAttribute('aria-pressed')).toBe('false'); // hidden with the camera
      // A sample drawn just before may still be encoding; after that, five intervals go by without one.
      await page.waitForTimeout(2 * INTERVAL_MS);
      const beforeHidden = await samplesTaken(page);
      expect(beforeHidden).toBeGreaterThanOrEqual(2);
      await page.waitForTimeout(5 * INTERVAL_MS);
      expect(await samplesTaken(page)).toBe(beforeHidden);
      await page.keyboard.up('Space');
      // What was taken before is stored, no more (a busy machine's camera may repeat a frame: stored once).
      await page.waitForFunction("document.getElementById('webcam-message').textContent.startsWith('Saved ')", undefined, { timeout: 30_000 });
      expect(await page.locator('#webcam-message').textContent()).toMatch(new RegExp(`^Saved ${beforeHidden} samples of “faces”( \\(\\d+ already in the class, kept once\\))?\\.$`));
      const storedBefore = (await jpegsIn(facesDir)).length;
      expect(storedBefore).toBeGreaterThan(first + second);
      expect(storedBefore).toBeLessThanOrEqual(first + second + beforeHidden);
      // Visible again: the camera stays off until asked for (the panel offers Start camera), then records as before.
      await setPageHidden(page, false);
      await page.waitForTimeout(2 * INTERVAL_MS);
      expect(await trackStates()).toEqual(['ended']);
      expect(await page.locator('#webcam-live').isHidden()).toBe(true);
      await page.getByRole('button', { name: 'Start camera' }).click();
      await page.waitForFunction(cameraReady);
      expect(await trackStates()).toEqual(['ended', 'live']);
      await record.focus();
      await page.keyboard.down('Space');
      await page.waitForTimeout(4 * INTERVAL_MS);
      await page.keyboard.up('Space');
      await page.waitForFunction("document.getElementById('webcam-message').textContent.startsWith('Saved ') && document.getElementById('webcam-record').getAttribute('aria-pressed') === 'false' && !document.getElementById('webcam-record').disabled", undefined, { timeout: 30_000 });
      const afterHidden = await samplesTaken(page);
      expect(afterHidden).toBeGreaterThanOrEqual(1);
      expect((await jpegsIn(facesDir)).length).toBeGreaterThan(storedBefore);

      // At phone width, with the preview and the strip of thumbnails: nothing wider than the screen.
      await page.setViewportSize({ width: 390, height: 844 });
      await page.screenshot({ path: join(artifactsDir, 'dashboard-webcam-390.png'), fullPage: true });
      expect(await page.evaluate<boolean>('document.documentElement.scrollWidth > document.documentElement.clientWidth'), 'horizontal overflow at 390px').toBe(false);
      await page.setViewportSize({ width: 1280, height: 900 });

      // Closed: every track the page was given is stopped (the camera light goes off).
      await page.getByRole('button', { name: 'Close webcam' }).click();
      expect(await page.locator('#webcam-panel').isHidden()).toBe(true);
      const tracks = await page.evaluate<{ streams: number; states: string[] }>("({ streams: window.__streams.length, states: window.__streams.flatMap((s) => s.getTracks().map((t) => t.readyState)) })");
      expect(tracks.streams).toBeGreaterThanOrEqual(1);
      expect(tracks.states.length).toBeGreaterThanOrEqual(1);
      expect(tracks.states.every((s) => s === 'ended'), tracks.states.join()).toBe(true);
      expect(await page.evaluate<boolean>("document.getElementById('webcam-video').srcObject === null")).toBe(true);

      // An existing class's camera button records into that class.
      await page.getByRole('button', { name: 'Webcam samples for faces' }).click();
      await page.waitForFunction(cameraReady);
      expect(await page.getByLabel('Class', { exact: true }).inputValue()).toBe('faces');
      await page.keyboard.press('Escape');
      expect(await page.locator('#webcam-panel').isHidden()).toBe(true);
      expect(await page.evaluate<string[]>("window.__streams.flatMap((s) => s.getTracks().map((t) => t.readyState))")).not.toContain('live');
      expect(errors).toEqual([]);
    } finally {
      await chromium.close();
    }
  });

  it('offers a picker when there are two cameras; switching, opening again before the camera answered, or choosing another project leaves no camera running', async () => {
    const project = await createUploadProject(server, 'two cameras');
    const chromium = await launchChromium(['--use-fake-device-for-media-stream=device-count=2', '--use-fake-ui-for-media-stream']);
    try {
      const page = await chromium.browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.addInitScript(RECORD_STREAMS);
      await openProject(page, server.url, server.token, project.id);
      await page.getByLabel('Class', { exact: true }).fill('faces');
      await page.getByRole('button', { name: 'Webcam', exact: true }).click();
      await page.waitForFunction(cameraReady);
      const picker = page.getByRole('combobox', { name: /^Camera/ });
      expect(await picker.isVisible()).toBe(true);
      const cameras = await picker.locator('option').evaluateAll((options) => options.map((o) => [o.getAttribute('value'), o.textContent]));
      expect(cameras.map(([, name]) => name)).toEqual(['fake_device_0', 'fake_device_1']);
      const current = await picker.inputValue();
      const next = cameras.map(([value]) => value!).find((value) => value !== current)!;
      expect(next).toBeTruthy();
      await picker.selectOption(next);
      await page.waitForFunction('window.__streams.length === 2');
      await page.waitForFunction(cameraReady);
      const states = await page.evaluate<string[][]>('window.__streams.map((s) => s.getTracks().map((t) => t.readyState))');
      expect(states).toEqual([['ended'], ['live']]);
      expect(await page.evaluate<string | undefined>('window.__streams[1].getVideoTracks()[0].getSettings().deviceId')).toBe(next);
      expect(await picker.inputValue()).toBe(next);
      await page.getByRole('button', { name: 'Close webcam' }).click();
      expect(await page.evaluate<string[]>('window.__streams.flatMap((s) => s.getTracks().map((t) => t.readyState))')).toEqual(['ended', 'ended']);

      // Opened, closed and opened again before the camera answered: the first answer is stopped, not left running.
      await page.evaluate("(() => { const open = document.getElementById('webcam-open'); open.click(); document.getElementById('webcam-close').click(); open.click(); })()");
      await page.waitForFunction('window.__streams.length === 4');
      await page.waitForFunction(cameraReady);
      await page.getByRole('button', { name: 'Close webcam' }).click();
      expect(await page.evaluate<string[]>('window.__streams.flatMap((s) => s.getTracks().map((t) => t.readyState))')).toEqual(['ended', 'ended', 'ended', 'ended']);

      // Another project chosen while the camera is on: the panel closes (samples go to the project they were taken in).
      const other = await createUploadProject(server, 'other uploads');
      await page.reload();
      await page.waitForSelector(`#project-select option[value="${other.id}"]`, { state: 'attached' });
      await page.selectOption('#project-select', String(project.id));
      await page.getByRole('button', { name: 'Webcam', exact: true }).click();
      await page.waitForFunction(cameraReady);
      await page.selectOption('#project-select', String(other.id));
      await page.waitForSelector('#webcam-panel', { state: 'hidden' });
      expect(await page.evaluate<string[]>('window.__streams.flatMap((s) => s.getTracks().map((t) => t.readyState))')).toEqual(['ended']);
      expect(errors).toEqual([]);
    } finally {
      await chromium.close();
    }
  });

  it('says so when the camera is denied or missing, and the file upload still works', async () => {
    const project = await createUploadProject(server, 'no camera');
    for (const [flags, said] of [
      // A synthetic camera, but no fake consent: the headless browser denies the request.
      [['--use-fake-device-for-media-stream'], /^Camera access was denied\. Allow the camera for this site/],
      // Consent, but no camera at all.
      [['--use-fake-ui-for-media-stream'], /^No camera was found\./],
    ] as const) {
      const chromium = await launchChromium(flags);
      try {
        const page = await chromium.browser.newPage();
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(e.message));
        await openProject(page, server.url, server.token, project.id);
        await page.getByLabel('Class', { exact: true }).fill('circles');
        await page.getByRole('button', { name: 'Webcam', exact: true }).click();
        await page.waitForFunction("document.getElementById('webcam-message').classList.contains('error')");
        expect(await page.locator('#webcam-message').textContent()).toMatch(said);
        expect(await page.locator('#webcam-live').isHidden()).toBe(true);
        expect(await page.getByRole('button', { name: 'Start camera' }).isVisible()).toBe(true);
        await page.locator('#webcam-panel').screenshot({ path: join(artifactsDir, `dashboard-webcam-${flags[0]!.includes('device') ? 'denied' : 'missing'}.png`) });
        // Nothing else broke: images still upload from files.
        await page.getByLabel('Images of this class').setInputFiles(data.files.filter((f) => f.includes('/train/circles/')).slice(0, 1));
        await page.getByRole('button', { name: 'Upload', exact: true }).click();
        await page.waitForFunction("/^Uploaded 1 images of circles/.test(document.getElementById('upload-message').textContent)");
        expect(errors).toEqual([]);
      } finally {
        await chromium.close();
      }
    }
  });

  it('says the page is not a secure context where getUserMedia does not exist, and shows a refused upload with its samples kept to send again or discard', async () => {
    const project = await createUploadProject(strict, 'strict');
    const port = new URL(strict.url).port;
    const chromium = await launchChromium([...FAKE_CAMERA, '--host-resolver-rules=MAP graft.test 127.0.0.1']);
    try {
      const page = await chromium.browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      // http://graft.test is not a secure context (only https, localhost and 127.0.0.1 are): no navigator.mediaDevices.
      await openProject(page, `http://graft.test:${port}`, strict.token, project.id);
      await page.getByLabel('Class', { exact: true }).fill('faces');
      await page.getByRole('button', { name: 'Webcam', exact: true }).click();
      await page.waitForFunction("document.getElementById('webcam-message').textContent.length > 0");
      expect(await page.locator('#webcam-message').textContent()).toBe(
        `The webcam needs a secure page: open the dashboard over https, or on this machine as http://localhost or http://127.0.0.1 (browsers offer cameras only there). This page is http://graft.test:${port}.`,
      );
      expect(await page.locator('#webcam-live').isHidden()).toBe(true);

      // The same server at 127.0.0.1: the camera works, and the server refuses the samples (over its 2 KB limit).
      await openProject(page, strict.url, strict.token, project.id);
      await page.getByLabel('Class', { exact: true }).fill('faces');
      await page.getByRole('button', { name: 'Webcam', exact: true }).click();
      await page.waitForFunction(cameraReady);
      const record = page.getByRole('button', { name: 'Hold to record' });
      await record.focus();
      await page.keyboard.down('Enter');
      await page.waitForTimeout(400);
      await page.keyboard.up('Enter');
      await page.waitForSelector('#webcam-unsaved:not([hidden])', { timeout: 30_000 });
      const taken = await samplesTaken(page);
      expect(taken).toBeGreaterThanOrEqual(1);
      // Which sample the refusal names depends on how the samples of 400 ms fell into uploads (one CI run named the second).
      expect(await page.locator('#webcam-message').textContent()).toMatch(/^The samples of “faces” were refused: webcam-\d+-\d+\.jpg is larger than the upload limit; nothing of this upload was kept\. \(send smaller images\)$/);
      expect(await page.locator('#webcam-thumbs li.unsaved').count()).toBe(taken);
      // Said by their text alternative too, not only by a dashed border; the refusal is tied to Upload again, which
      // acts on it; every control of the panel has a name.
      expect(await page.locator('#webcam-thumbs img').first().getAttribute('alt')).toBe('Sample 1 of faces, not saved');
      expect(await failureTie(page, 'Upload again', '#webcam-retry')).toEqual({ description: expect.stringContaining('were refused'), saidIn: ['webcam-message'] });
      expect.soft(await namingProblems(page)).toEqual([]);
      expect(await record.isDisabled()).toBe(true);
      expect(await jpegsIn(join(project.dataDir, 'faces'))).toEqual([]);
      await page.locator('#webcam-panel').screenshot({ path: join(artifactsDir, 'dashboard-webcam-refused.png') });
      // Sent again: refused again, still kept. Discarded: gone, and recording is possible again.
      await page.getByRole('button', { name: 'Upload again' }).click();
      await page.waitForSelector('#webcam-unsaved:not([hidden])');
      await page.getByRole('button', { name: 'Discard unsaved samples' }).click();
      expect(await page.locator('#webcam-message').textContent()).toBe(`Discarded ${taken} unsaved samples of “faces”.`);
      expect(await page.locator('#webcam-thumbs li').count()).toBe(0);
      expect(await record.isDisabled()).toBe(false);
      // Held with no class named: said, and tied to the Class field (which gets focus) until it is edited.
      const nameFirst = 'Name the class first (the Class field above), then hold to record.';
      await page.getByLabel('Class', { exact: true }).fill('');
      await record.focus();
      await page.keyboard.press('Enter');
      expect(await page.locator('#webcam-message').textContent()).toBe(nameFirst);
      expect(await page.evaluate<string>("document.activeElement.getAttribute('name')")).toBe('label');
      expect(await failureTie(page, 'Class', '#upload-form [name=label]')).toEqual({ invalid: 'true', description: nameFirst, saidIn: ['webcam-message'] });
      await page.keyboard.type('faces');
      expect(await failureTie(page, 'Class', '#upload-form [name=label]')).toEqual({ saidIn: [] });
      expect(errors).toEqual([]);
    } finally {
      await chromium.close();
    }
  });
});
