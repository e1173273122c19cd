import { existsSync, readdirSync } from 'node:fs';
import { cp, mkdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerExport } from '../../src/cli/commands/export.js';
import { decodeImage } from '../../src/data/decode-image.js';
import { exportTfjs } from '../../src/model/export-tfjs.js';
import { GraftModel } from '../../src/model/graft-model.js';
import { exportWeb, ORT_WEB_FILES, TFJS_WEB_FILES } from '../../src/web/export-web.js';
import type { WebModelInfo } from '../../src/web/web-model-info.js';
import { loadLayersModelFromDir } from '../../src/readers/tfjs-layers.js';
import { repoRoot } from '../support.js';
import { contrastProblems, namingProblems } from './page-accessibility.js';
import { artifactsDir, chromiumSkipReason, hasChromium, launchChromium, removeTinyModel, serveStatic, trainTinyModel, type TinyModel } from './web-support.js';

const startServerFile = join(repoRoot, 'src/serve/start-server.ts');

describe('graft export --to web', () => {
  let model: TinyModel;
  let cropModelDir: string;
  let images: string[];
  beforeAll(async () => {
    model = await trainTinyModel();
    // The same ONNX file with 'center-crop' in its manifest: both resize modes go through the browser path.
    cropModelDir = join(model.root, 'model-crop');
    await cp(model.dir, cropModelDir, { recursive: true });
    const manifestPath = join(cropModelDir, 'graft.json');
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
    manifest.preprocessing.resize = 'center-crop';
    await writeFile(manifestPath, JSON.stringify(manifest));
    // Test images: the validation images (160 px, upscaled) plus non-square, larger ones (downscaled, cropped).
    const imageDir = join(model.root, 'test-images');
    await mkdir(imageDir, { recursive: true });
    const val = model.data.files.filter((f) => f.includes('/val/'));
    images = [];
    for (const f of val) {
      const name = `${basename(f)}`;
      await cp(f, join(imageDir, name));
      images.push(join(imageDir, name));
    }
    for (const [i, f] of val.slice(0, 3).entries()) {
      const wide = join(imageDir, `wide_${i}.jpg`);
      await sharp(f).resize(i % 2 ? 420 : 640, i % 2 ? 640 : 400, { fit: 'fill' }).jpeg({ quality: 90 }).toFile(wide);
      images.push(wide);
    }
    // A camera photo's 4:3 (hymenoptera's 500 x 375): its centre square starts half a pixel in.
    const photo = join(imageDir, 'photo_4x3.jpg');
    await sharp(val[3]!).resize(500, 375, { fit: 'fill' }).jpeg({ quality: 90 }).toFile(photo);
    images.push(photo);
  });
  afterAll(() => removeTinyModel(model));

  it('writes model.onnx, model.json from the manifest, the wasm runtime, classify.js and index.html', async () => {
    const out = join(model.root, 'web-a');
    const result = await exportWeb(model.dir, { out });
    for (const name of ['index.html', 'classify.js', 'model.json', 'model.onnx', ...ORT_WEB_FILES]) expect(existsSync(join(out, name)), name).toBe(true);
    const info = JSON.parse(await readFile(join(out, 'model.json'), 'utf8')) as WebModelInfo;
    const manifest = JSON.parse(await readFile(join(model.dir, 'graft.json'), 'utf8'));
    expect(info.labels).toEqual(manifest.labels);
    expect(info.preprocessing).toEqual(manifest.preprocessing);
    // The page's accuracy line: validation, else the cross-validated estimate on the training images.
    expect(info.metrics.cv).toEqual({ accuracy: manifest.training.outcome.selection.chosen.accuracy, folds: manifest.training.outcome.selection.folds });
    expect(result.files.length).toBe(4 + ORT_WEB_FILES.length);
    // No /favicon.ico request (a 404 in the console on every load), as the server's page.
    expect(await readFile(join(out, 'index.html'), 'utf8')).toContain('<link rel="icon" href="data:,">');
    expect(result.engineReason).toContain("the server's probabilities for the same pixels (its canvas resizes a photo a little differently");
    await expect(exportWeb(model.dir, { out })).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
    // A mistyped engine is refused before anything is touched: the earlier export stays whole (it was deleted first).
    const before = readdirSync(out).sort();
    await expect(exportWeb(model.dir, { out, overwrite: true, engine: 'tfjs.js' as 'tfjs' })).rejects.toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringContaining('Unknown web engine') });
    expect(readdirSync(out).sort()).toEqual(before);
    await exportWeb(model.dir, { out, overwrite: true });
    expect(readdirSync(model.root).filter((f) => f.includes('.staging-'))).toEqual([]);
    // A file as --out: said (it was an internal ENOTDIR).
    const file = join(model.root, 'a-file');
    await writeFile(file, 'x');
    await expect(exportWeb(model.dir, { out: file })).rejects.toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringContaining('is a file') });
    // auto runs model.onnx itself, in onnxruntime-web (here a float model: nsfwjs backbone).
    expect(result.engine).toBe('onnxruntime-web');
    expect(result.engineReason).toContain('float');
  });

  it('engine tfjs writes the TF.js model under tfjs/, the TF.js runtime and an NHWC model.json', async () => {
    const out = join(model.root, 'web-tfjs-files');
    const result = await exportWeb(model.dir, { out, engine: 'tfjs' });
    expect(result.engine).toBe('tfjs');
    for (const name of ['index.html', 'classify.js', 'model.json', 'tfjs/model.json', 'tfjs/graft-model.json', ...TFJS_WEB_FILES]) expect(existsSync(join(out, name)), name).toBe(true);
    expect(existsSync(join(out, 'model.onnx'))).toBe(false);
    const info = JSON.parse(await readFile(join(out, 'model.json'), 'utf8'));
    expect(info).toMatchObject({ format: 'graft-web-model', engine: 'tfjs', tfjs: { file: 'tfjs/model.json' } });
    expect(info.preprocessing.layout).toBe('nhwc');
    const html = await readFile(join(out, 'index.html'), 'utf8');
    expect(html).toContain('<script src="tf-backend-wasm.min.js"></script>');
    expect(html).not.toContain('ort.wasm.min.js');
    // A folder made to be published names no folder of this machine (graft-model.json named the model directory's).
    for (const name of ['model.json', 'tfjs/graft-model.json']) expect(await readFile(join(out, name), 'utf8'), name).not.toContain(model.root);
  });

  it('--to tfjs replaces an earlier export only with --overwrite, as --to web does', async () => {
    const out = join(model.root, 'tfjs-export');
    await exportTfjs(model.dir, { out });
    await expect(exportTfjs(model.dir, { out })).rejects.toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringContaining('exists and is not empty') });
    expect((await exportTfjs(model.dir, { out, overwrite: true })).out).toBe(out);
  });

  it('--to tfjs keeps the mirror test-time augmentation inside the layers model: model.predict gives GraftModel.predict’s probabilities', async () => {
    const manifest = JSON.parse(await readFile(join(model.dir, 'graft.json'), 'utf8'));
    expect(manifest.onnx.tta).toBe('mirror');
    const out = join(model.root, 'tfjs-mirror');
    await exportTfjs(model.dir, { out });
    const metadata = JSON.parse(await readFile(join(out, 'graft-model.json'), 'utf8'));
    expect(metadata.testTimeAugmentation).toMatchObject({ kind: 'mirror', inModel: true });
    const node = await GraftModel.load(model.dir);
    const files = images.slice(0, 4);
    const expected = (await node.predict(files, { topK: node.labels.length })).results;
    await node.dispose();
    const tf = await import('@tensorflow/tfjs');
    const layers = await loadLayersModelFromDir(out);
    try {
      for (const [i, file] of files.entries()) {
        const x = await decodeImage(file, metadata.preprocessing);
        const p = tf.tidy(() => {
          const y = layers.predict(tf.tensor(x, [1, metadata.preprocessing.inputSize, metadata.preprocessing.inputSize, 3]));
          return Array.from((Array.isArray(y) ? y[0]! : y).dataSync());
        });
        for (const { label, probability } of expected[i]!.predictions) expect(Math.abs(p[node.labels.indexOf(label)]! - probability), `${file} ${label}`).toBeLessThan(1e-4);
      }
    } finally {
      layers.dispose();
    }
  });

  it('refuses a model directory whose graft.json no longer matches its model.onnx (a label added by hand), writing nothing', async () => {
    const edited = join(model.root, 'edited');
    await cp(model.dir, edited, { recursive: true });
    const manifestPath = join(edited, 'graft.json');
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
    manifest.labels = [...manifest.labels, 'hexagons'];
    await writeFile(manifestPath, JSON.stringify(manifest));
    // Before, both exports wrote a model whose answers the page or the caller named by labels shifted one class over.
    const refusal = { code: 'INVALID_MODEL_DIR', message: expect.stringContaining(`does not match ${manifestPath}`) };
    await expect(exportWeb(edited, { out: join(model.root, 'edited-web') })).rejects.toMatchObject(refusal);
    await expect(exportTfjs(edited, { out: join(model.root, 'edited-tfjs') })).rejects.toMatchObject(refusal);
    expect(existsSync(join(model.root, 'edited-web'))).toBe(false);
    expect(existsSync(join(model.root, 'edited-tfjs'))).toBe(false);
  });

  it('refuses a folder that is not a model directory', async () => {
    await expect(exportWeb(model.data.root, { out: join(model.root, 'web-x') })).rejects.toMatchObject({ code: 'INVALID_MODEL_DIR' });
  });

  it.skipIf(!hasChromium)('opened from file://, the page says to serve its folder over HTTP (it said "Failed to fetch")', async () => {
    const out = join(model.root, 'web-file-url');
    await exportWeb(model.dir, { out });
    const chromium = await launchChromium();
    try {
      const page = await chromium.browser.newPage();
      await page.goto(pathToFileURL(join(out, 'index.html')).href);
      await page.waitForFunction("document.getElementById('status').textContent.startsWith('Could not load')", undefined, { timeout: 15_000 });
      expect(await page.textContent('#status')).toContain('serve its folder over HTTP');
    } finally {
      await chromium.close();
    }
  });

  it('GraftModel.load names a damaged model.onnx as a damaged model directory (it was UNSUPPORTED_MODEL: "report this model")', async () => {
    const damaged = join(model.root, 'damaged');
    await cp(model.dir, damaged, { recursive: true });
    await truncate(join(damaged, 'model.onnx'), 1000);
    await expect(GraftModel.load(damaged)).rejects.toMatchObject({ code: 'INVALID_MODEL_DIR', message: expect.stringMatching(new RegExp(`^${join(damaged, 'model.onnx')} has changed since ${join(damaged, 'graft.json')} was written \\(its sha256 is [0-9a-f]{64}, not [0-9a-f]{64}\\): it was damaged or replaced$`)) });
    // A directory of an earlier Graft (no hash recorded): what onnxruntime cannot load is still named as damaged.
    const manifest = JSON.parse(await readFile(join(damaged, 'graft.json'), 'utf8')) as { files: { onnxSha256?: string } };
    delete manifest.files.onnxSha256;
    await writeFile(join(damaged, 'graft.json'), JSON.stringify(manifest));
    await expect(GraftModel.load(damaged)).rejects.toMatchObject({ code: 'INVALID_MODEL_DIR', message: expect.stringContaining(`${join(damaged, 'model.onnx')} is damaged`) });
  });

  it('`graft export --target coreml` (--to by its first name) is refused with the known targets', async () => {
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const program = new Command('graft').exitOverride();
      registerExport(program);
      await program.parseAsync(['node', 'graft', 'export', model.dir, '--target', 'coreml', '--json']);
      expect(String(out.mock.calls[0]?.[0])).toContain('Must be one of: web');
      expect(process.exitCode).toBe(2);
    } finally {
      process.exitCode = 0;
      spy.mockRestore();
      out.mockRestore();
    }
  });

  it.skipIf(!hasChromium)('classifies in headless Chromium with the same top-1 as GraftModel.predict in Node (stretch and center-crop)', async () => {
    const chromium = await launchChromium();
    try {
      for (const [tag, dir] of [['stretch', model.dir], ['center-crop', cropModelDir]] as const) {
        const out = join(model.root, `web-${tag}`);
        await exportWeb(dir, { out });
        const node = await GraftModel.load(dir);
        const expected = (await node.predict(images, { topK: 3 })).results;
        await node.dispose();
        const server = await serveStatic({ '/': out, '/test-images/': join(model.root, 'test-images') });
        try {
          const page = await chromium.browser.newPage();
          const errors: string[] = [];
          page.on('pageerror', (e) => errors.push(e.message));
          await page.goto(`${server.url}/index.html`);
          const names = images.map((f) => basename(f));
          const started = Date.now();
          await page.waitForFunction('window.graftClassifier', undefined, { timeout: 30_000 });
          const browser = await page.evaluate<{ label: string; probs: number[]; ms: number }[]>(
            `(async (names) => { const c = await window.graftClassifier; const out = [];
              for (const n of names) { const r = await c.classify('/test-images/' + n); out.push({ label: r.predictions[0].label, probs: r.probabilities, ms: r.timing_ms }); }
              return out; })(${JSON.stringify(names)})`,
          );
          const loadMs = Date.now() - started;
          expect(errors).toEqual([]);
          const labels = node.labels;
          const diffs = browser.map((b, i) => {
            const e = expected[i]!;
            expect(b.label, `${tag} ${names[i]}`).toBe(e.predictions[0]!.label);
            return Math.max(...e.predictions.map((p) => Math.abs(p.probability - b.probs[labels.indexOf(p.label)]!)));
          });
          const maxDiff = Math.max(...diffs);
          const ms = browser.map((b) => b.ms).sort((a, b) => a - b);
          console.log(`export-web ${tag}: ${images.length}/${images.length} same top-1, max |p_browser - p_node| = ${maxDiff.toFixed(4)}, median classify ${ms[ms.length >> 1]!.toFixed(0)} ms (1 wasm thread), load+classify all ${loadMs} ms; per image ${diffs.map((d) => d.toFixed(3)).join(' ')}`);
          expect(maxDiff).toBeLessThan(0.25);
          // The same top-1 as the server, where it exists (src/serve is written in parallel).
          if (existsSync(startServerFile)) {
            const { startServer } = (await import(startServerFile)) as typeof import('../../src/serve/start-server.js');
            const api = await startServer({ models: [dir], port: 0, watch: false });
            try {
              const name = basename(dir);
              for (const [i, file] of images.entries()) {
                const response = await fetch(`${api.url}/v1/models/${name}/predict`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: new Uint8Array(await readFile(file)) });
                const reply = (await response.json()) as { predictions: { label: string }[] };
                expect(reply.predictions[0]?.label, `server vs browser, ${names[i]}`).toBe(browser[i]!.label);
              }
            } finally {
              await api.close();
            }
          }
          // Input tensors themselves: how far the canvas resize is from sharp's, in model-input units.
          const pixelDiffs: string[] = [];
          for (const i of [0, images.length - 1]) {
            const inBrowser = await page.evaluate<number[]>(`window.graftClassifier.then((c) => c.preprocess('/test-images/${names[i]}')).then((x) => Array.from(x))`);
            const inNode = await decodeImage(images[i]!, node.manifest.preprocessing);
            let sum = 0;
            inNode.forEach((v, j) => (sum += Math.abs(v - inBrowser[j]!)));
            pixelDiffs.push(`${names[i]} mean |x_browser - x_node| = ${(sum / inNode.length).toFixed(4)}`);
            // The 4:3 photo downscaled: the canvas crops at sharp's whole pixels (0.0077 at a fractional offset, 0.0019 now).
            if (names[i] === 'photo_4x3.jpg') expect(sum / inNode.length, `${tag} ${names[i]} input`).toBeLessThan(0.004);
          }
          console.log(`export-web ${tag} input tensors (scale ${node.manifest.preprocessing.scale}): ${pixelDiffs.join('; ')}`);
          if (tag === 'stretch') {
            // Node reads TIFF; Chromium does not, and said only "The source image could not be decoded".
            await writeFile(join(model.root, 'test-images', 'photo.tiff'), await sharp(images[0]!).tiff().toBuffer());
            const message = await page.evaluate<string>(`window.graftClassifier.then((c) => c.classify('/test-images/photo.tiff')).then(() => 'classified', (e) => e.message)`);
            expect(message).toMatch(/^This browser cannot decode TIFF images: convert the image to JPEG, PNG or WebP first/);
            // A WebP stored sideways with EXIF orientation 6 (as phones save them) is turned upright as sharp turns it:
            // Chromium applies the tag of a JPEG or PNG, not of a WebP.
            const dir = join(model.root, 'test-images');
            await writeFile(join(dir, 'upright.png'), await sharp(images[0]!).png().toBuffer());
            await writeFile(join(dir, 'sideways-tagged.webp'), await sharp(images[0]!).rotate(270).webp({ lossless: true }).withMetadata({ orientation: 6 }).toBuffer());
            await writeFile(join(dir, 'sideways.webp'), await sharp(images[0]!).rotate(270).webp({ lossless: true }).toBuffer());
            const inputOf = (name: string): Promise<number[]> => page.evaluate<number[]>(`window.graftClassifier.then((c) => c.preprocess('/test-images/${name}')).then((x) => Array.from(x))`);
            const meanDiff = (a: number[], b: number[]): number => a.reduce((sum, v, j) => sum + Math.abs(v - b[j]!), 0) / a.length;
            const upright = await inputOf('upright.png');
            expect(meanDiff(await inputOf('sideways-tagged.webp'), upright)).toBeLessThan(1e-3);
            expect(meanDiff(await inputOf('sideways.webp'), upright)).toBeGreaterThan(0.02); // what an untagged turn costs
          }
          await page.setInputFiles('#files', images.slice(-1));
          await page.waitForSelector('#results li[data-top]');
          if (tag === 'stretch') {
            // Named controls, readable text, and a result or a failure said in the live region (a screen reader hears it).
            expect.soft(await namingProblems(page)).toEqual([]);
            expect.soft(await contrastProblems(page)).toEqual([]);
            expect.soft(await page.getAttribute('#results li[data-top] img', 'alt')).toMatch(/, classified as \w+, \d+\.\d%$/);
            await page.setInputFiles('#files', { name: 'notes.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('not an image') });
            await page.waitForFunction("document.getElementById('status').textContent.startsWith('notes.jpg: could not classify: ')", undefined, { timeout: 10_000 });
          }
          for (const width of [1280, 390]) {
            await page.setViewportSize({ width, height: 800 });
            await page.screenshot({ path: join(artifactsDir, `export-web-${tag}-${width}.png`), fullPage: true });
            const overflow = await page.evaluate<boolean>('document.documentElement.scrollWidth > document.documentElement.clientWidth');
            expect(overflow, `overflow at ${width}`).toBe(false);
          }
          await page.close();
        } finally {
          await server.close();
        }
      }
    } finally {
      await chromium.close();
    }
  });
});

describe('graft export --to web, engine tfjs, in Chromium', () => {
  let model: TinyModel;
  beforeAll(async () => {
    model = await trainTinyModel();
  });
  afterAll(() => removeTinyModel(model));

  it.skipIf(!hasChromium)('the TF.js folder classifies with the same top-1 as GraftModel.predict and the server', async () => {
    const images = model.data.files.filter((f) => f.includes('/val/'));
    const out = join(model.root, 'web-tfjs');
    await exportWeb(model.dir, { out, engine: 'tfjs' });
    const node = await GraftModel.load(model.dir);
    const expected = (await node.predict(images, { topK: 3 })).results;
    const labels = node.labels;
    await node.dispose();
    const chromium = await launchChromium();
    const server = await serveStatic({ '/': out, '/images/': model.data.root });
    try {
      const page = await chromium.browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${server.url}/index.html`);
      await page.waitForFunction('window.graftClassifier', undefined, { timeout: 30_000 });
      const rel = images.map((f) => f.slice(model.data.root.length + 1));
      const browser = await page.evaluate<{ label: string; probs: number[]; ms: number; backend: string }[]>(
        `(async (names) => { const c = await window.graftClassifier; const out = [];
          for (const n of names) { const r = await c.classify('/images/' + n); out.push({ label: r.predictions[0].label, probs: r.probabilities, ms: r.timing_ms, backend: tf.getBackend() }); }
          return out; })(${JSON.stringify(rel)})`,
      );
      expect(errors).toEqual([]);
      expect(browser[0]?.backend).toBe('wasm');
      const diffs = browser.map((b, i) => {
        const e = expected[i]!;
        expect(b.label, rel[i]).toBe(e.predictions[0]!.label);
        return Math.max(...e.predictions.map((p) => Math.abs(p.probability - b.probs[labels.indexOf(p.label)]!)));
      });
      const ms = browser.map((b) => b.ms).sort((a, b) => a - b);
      console.log(`export-web tfjs: ${images.length}/${images.length} same top-1, max |p_browser - p_node| = ${Math.max(...diffs).toFixed(4)}, median classify ${ms[ms.length >> 1]!.toFixed(0)} ms (tfjs-wasm)`);
      expect(Math.max(...diffs)).toBeLessThan(0.25);
      if (existsSync(startServerFile)) {
        const { startServer } = (await import(startServerFile)) as typeof import('../../src/serve/start-server.js');
        const api = await startServer({ models: [model.dir], port: 0, watch: false });
        try {
          for (const [i, file] of images.entries()) {
            const response = await fetch(`${api.url}/v1/models/${basename(model.dir)}/predict`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: new Uint8Array(await readFile(file)) });
            const reply = (await response.json()) as { predictions: { label: string }[] };
            expect(reply.predictions[0]?.label, `server vs browser, ${rel[i]}`).toBe(browser[i]!.label);
          }
        } finally {
          await api.close();
        }
      }
      await page.setInputFiles('#files', images.slice(-1));
      await page.waitForSelector('#results li[data-top]');
      expect(await page.textContent('#about')).toContain('TensorFlow.js');
      await page.screenshot({ path: join(artifactsDir, 'export-web-tfjs-1280.png'), fullPage: true });
      await page.close();
    } finally {
      await server.close();
      await chromium.close();
    }
  });
});

if (!hasChromium) chromiumSkipReason('export-web browser test');
