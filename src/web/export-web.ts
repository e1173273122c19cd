import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { GraftError } from '../errors.js';
import { MANIFEST_FILE, parseManifest, type ModelManifest } from '../model/manifest.js';
import { CLASSIFY_JS } from './classify-script.js';
import { exampleIndexHtml } from './example-page.js';
import { webModelInfo, type WebModelInfo } from './web-model-info.js';

/**
 * The onnxruntime-web files the wasm execution provider needs, next to each other in the export:
 * `ort.wasm.min.js` (the wasm-only UMD build: defines the global `ort`) loads the `.mjs` glue and its `.wasm`
 * relative to `ort.env.wasm.wasmPaths`. The JSEP/WebGPU, asyncify and JSPI variants are not copied.
 */
export const ORT_WEB_FILES = ['ort.wasm.min.js', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'] as const;

/** Options of {@link exportWeb}. */
export interface ExportWebOptions {
  /** Output folder. Defaults to `<model-dir>-web` next to the model directory. */
  readonly out?: string;
  /** Replace an existing, non-empty output folder. Defaults to false (an error names the folder). */
  readonly overwrite?: boolean;
}

/** What {@link exportWeb} wrote. */
export interface ExportWebResult {
  readonly out: string;
  readonly files: readonly { readonly name: string; readonly bytes: number }[];
  readonly model: WebModelInfo;
}

/**
 * Writes a static folder that classifies images entirely in the browser with onnxruntime-web (wasm):
 * `model.onnx` (backbone + head, the same file Node runs), `model.json` (labels, preprocessing, I/O names),
 * the onnxruntime-web runtime, `classify.js` (preprocessing + inference, no dependencies) and an example
 * `index.html`. Serve it with any static server (browsers do not load wasm modules from file://).
 *
 * ONNX + onnxruntime-web is the only target: it runs the very file the server runs, so predictions agree
 * (tested in headless Chromium), and TF.js would need the model converted back.
 *
 * @throws GraftError INVALID_MODEL_DIR when the directory is not a model; INVALID_CONFIG when `out` exists
 *   and is not empty without `overwrite`; INTERNAL when onnxruntime-web is not installed.
 * @example
 * const { out } = await exportWeb('./bees-model', { out: './bees-web' });
 */
export async function exportWeb(modelDir: string, options: ExportWebOptions = {}): Promise<ExportWebResult> {
  const root = resolve(modelDir);
  const manifestPath = join(root, MANIFEST_FILE);
  if (!existsSync(manifestPath)) {
    throw new GraftError('INVALID_MODEL_DIR', `${root} is not a Graft model directory: ${MANIFEST_FILE} is missing`, {
      hint: 'pass the folder given to `graft train --out`',
    });
  }
  const manifest: ModelManifest = parseManifest(await readFile(manifestPath, 'utf8'), manifestPath);
  const onnxPath = join(root, manifest.files.onnx);
  if (!existsSync(onnxPath)) throw new GraftError('INVALID_MODEL_DIR', `${onnxPath} is missing`, { hint: 'the model directory is incomplete; train again' });

  const out = resolve(options.out ?? `${root}-web`);
  if (existsSync(out)) {
    if ((await readdir(out)).length && !options.overwrite) {
      throw new GraftError('INVALID_CONFIG', `The output folder ${out} exists and is not empty`, { hint: 'pass --overwrite, or choose another --out' });
    }
    if (options.overwrite) await rm(out, { recursive: true, force: true });
  }
  await mkdir(out, { recursive: true });

  const ortDir = onnxruntimeWebDist();
  const model = webModelInfo(manifest, basename(root));
  await copyFile(onnxPath, join(out, 'model.onnx'));
  for (const file of ORT_WEB_FILES) await copyFile(join(ortDir, file), join(out, file));
  await writeFile(join(out, 'model.json'), `${JSON.stringify(model, null, 2)}\n`);
  await writeFile(join(out, 'classify.js'), CLASSIFY_JS);
  await writeFile(join(out, 'index.html'), exampleIndexHtml(model.name));
  const names = ['index.html', 'classify.js', 'model.json', 'model.onnx', ...ORT_WEB_FILES];
  const files = await Promise.all(names.map(async (name) => ({ name, bytes: (await stat(join(out, name))).size })));
  return { out, files, model };
}

/** The folder holding onnxruntime-web's built files. */
function onnxruntimeWebDist(): string {
  try {
    // The package exports no package.json; its `./wasm` entry's `require` condition is dist/ort.wasm.min.js.
    const dir = dirname(createRequire(import.meta.url).resolve('onnxruntime-web/wasm'));
    for (const file of ORT_WEB_FILES) {
      if (!existsSync(join(dir, file))) throw new Error(`${join(dir, file)} is missing`);
    }
    return dir;
  } catch (cause) {
    throw new GraftError('INTERNAL', `onnxruntime-web is not installed correctly: ${(cause as Error).message}`, {
      cause,
      hint: 'run `npm install` (onnxruntime-web is a dependency of graft)',
    });
  }
}
