import { isWithin } from '../core/is-within.js';
import { existsSync } from 'node:fs';
import { copyFile, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { GraftError } from '../core/errors.js';
import { makeDirectory } from '../core/make-directory.js';
import { writeDirectoryStaged } from '../core/atomic-write.js';
import { assertOverwriteAllowed, WEB_EXPORT_OUTPUT } from '../core/replaceable-output.js';
import type { Preprocessing } from '../core/preprocessing.js';
import type { ModelProto } from '../onnx/onnx-model.js';
import { exportTfjs, TFJS_METADATA_FILE } from '../model/export-tfjs.js';
import { MANIFEST_FILE, parseManifest, type ModelManifest } from '../model/manifest.js';
import { readModelDirOnnx } from '../model/model-dir-onnx.js';
import { CLASSIFY_JS, CLASSIFY_TFJS_JS } from './classify-script.js';
import { exampleIndexHtml } from './example-page.js';
import { webModelInfo, type WebModelInfo } from './web-model-info.js';

/**
 * The onnxruntime-web files the wasm execution provider needs, next to each other in the export:
 * `ort.wasm.min.js` (the wasm-only UMD build: defines the global `ort`) loads the `.mjs` glue and its `.wasm`
 * relative to `ort.env.wasm.wasmPaths`. The JSEP/WebGPU, asyncify and JSPI variants are not copied.
 */
export const ORT_WEB_FILES = ['ort.wasm.min.js', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'] as const;

/**
 * TensorFlow.js files of a `tfjs` export: the union bundle (defines the global `tf`), the wasm backend (`tf.wasm`)
 * and its three builds (plain, SIMD, threaded SIMD; the backend picks one by what the browser allows).
 */
export const TFJS_WEB_FILES = ['tf.min.js', 'tf-backend-wasm.min.js', 'tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'] as const;

/** Folder of a `tfjs` export that holds the TF.js layers model (its own model.json, shards, graft-model.json). */
export const TFJS_MODEL_DIR = 'tfjs';

/**
 * Which browser runtime runs the model. `auto` (the default) picks by the measurement in bench/web-engines.mjs
 * (headless Chromium 156, 2-core VM, batch 1, median ms per image, inference only; bench/out/web-engines.txt):
 *
 * | model (tiny head on the synthetic shapes)  | onnxruntime-web 1.30 (wasm) | tfjs 4.22 (wasm, SIMD) |
 * | ------------------------------------------- | --------------------------- | ---------------------- |
 * | int8 MobileNetV2 1.0 (mobilenet_v2, default) | 58.5-58.8                   | 40.6-41.6              |
 * | float MobileNetV2 0.35 (Teachable Machine)  | 9.1-9.6                     | 18.4-20.8              |
 *
 * (one thread, no COOP/COEP headers: what a plain static server gives; three runs. Served cross-origin isolated,
 * onnxruntime-web's 2 threads were erratic on the busy 2-core VM: int8 48-100 ms, float 8.3-20 ms; tfjs-wasm stays
 * at one thread on 2 cores, 39.4-41.0 and 19.1-20.2 ms. The one-thread winner per model never changed.)
 * onnxruntime-web's wasm int8 kernels (QLinearConv...) are slower than tfjs running the dequantized float graph,
 * while on a float graph onnxruntime-web is ~2x faster. The TF.js form of an int8 model is ~2.8x bigger (float weights:
 * 10.2 MB against 3.7 MB for mobilenet_v2) but loads and warms up faster (0.5-0.65 s against 1.2-1.9 s). It is not
 * the same model, though: its activations are no longer rounded to 8 bits, and on hymenoptera's 153 val photos its
 * probabilities moved by up to 0.15 from the server's, changing 3 top-1 answers. So `auto` is onnxruntime-web for every
 * model, the one runtime that gives the server's answers; `tfjs` is chosen by name.
 */
export type WebEngine = 'onnxruntime-web' | 'tfjs';

/** What `engine` may be: a runtime, or 'auto' (onnxruntime-web). The CLI offers these as `--engine`'s choices. */
export const WEB_ENGINE_CHOICES: readonly (WebEngine | 'auto')[] = ['auto', 'onnxruntime-web', 'tfjs'];

/** Options of {@link exportWeb}. */
export interface ExportWebOptions {
  /** Browser runtime; `auto` (default): onnxruntime-web, which runs model.onnx itself (see {@link WebEngine}). */
  readonly engine?: WebEngine | 'auto';
  /** Output folder. Defaults to `<model-dir>-web` next to the model directory. */
  readonly out?: string;
  /** Replace an existing, non-empty output folder. Defaults to false (an error names the folder). */
  readonly overwrite?: boolean;
}

/** What {@link exportWeb} wrote. */
export interface ExportWebResult {
  readonly out: string;
  readonly files: readonly { readonly name: string; readonly bytes: number }[];
  readonly model: WebExportInfo;
  readonly engine: WebEngine;
  /** Why `auto` chose the engine, or why it fell back to onnxruntime-web. */
  readonly engineReason: string;
}

/** `model.json` of a web export: {@link WebModelInfo} plus the engine; a TF.js export names its model instead of the ONNX. */
export type WebExportInfo =
  | (WebModelInfo & { readonly engine: 'onnxruntime-web' })
  | (Omit<WebModelInfo, 'onnx'> & { readonly engine: 'tfjs'; readonly tfjs: { readonly file: string } });

/**
 * Writes a static folder that classifies images entirely in the browser: `model.json` (labels, preprocessing, engine),
 * the model, its runtime, `classify.js` (preprocessing + inference, no other dependencies) and an example
 * `index.html`. Serve it with any static server (browsers do not load wasm modules from file://).
 * - `onnxruntime-web`: `model.onnx` (backbone + head, the very file Node runs) and the onnxruntime-web wasm runtime;
 * - `tfjs`: `tfjs/model.json` + shards (the same classifier converted by exportTfjs, checked numerically against
 *   model.onnx, NHWC) and TensorFlow.js with its wasm backend.
 * Either way the browser's top-1 matches the server's on the test images (test/web/export-web.slow.test.ts, headless Chromium).
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
  // A directory edited by hand (a label more, another layout) would export a page that answers with the wrong names.
  const onnx = await readModelDirOnnx(manifest, { manifestPath, onnxPath });

  // Every check before anything is written: a mistyped engine must not cost an earlier export.
  if (options.engine !== undefined && !WEB_ENGINE_CHOICES.includes(options.engine)) {
    throw new GraftError('INVALID_CONFIG', `Unknown web engine "${String(options.engine)}". Must be one of: ${WEB_ENGINE_CHOICES.join(', ')}`);
  }
  const dest = resolve(options.out ?? `${root}-web`);
  if (isWithin(root, dest)) {
    throw new GraftError('INVALID_CONFIG', `The output folder ${dest} holds the model directory ${root}: writing the export there would delete it`, { hint: 'choose another --out' });
  }
  const existing = await stat(dest).catch(() => undefined);
  if (existing && !existing.isDirectory()) {
    throw new GraftError('INVALID_CONFIG', `The output ${dest} is a file; a web export is a folder`, { hint: 'choose another --out' });
  }
  await assertOverwriteAllowed(dest, options.overwrite, WEB_EXPORT_OUTPUT);
  // Written beside it, then swapped in whole: a failure leaves the earlier export as it was.
  await makeDirectory(dirname(dest));
  // Files the user added beside the page (a stylesheet, a logo) are kept; Graft's own are replaced.
  const written = await writeDirectoryStaged(dest, 'staging', (out) => writeWebExport(root, manifest, onnx, out, options.engine), { owns: WEB_EXPORT_OUTPUT.owns });
  return { ...written, out: dest };
}

/** The export's files, written into the empty folder `out`. */
async function writeWebExport(root: string, manifest: ModelManifest, onnx: { readonly bytes: Uint8Array; readonly model: ModelProto }, out: string, requested: ExportWebOptions['engine']): Promise<ExportWebResult> {
  const info = webModelInfo(manifest, basename(root));
  let engine: WebEngine;
  let engineReason: string;
  if (requested === undefined || requested === 'auto') {
    // The same answers as the server come first: onnxruntime-web runs model.onnx itself. TF.js runs an int8 model's
    // float conversion, ~30% faster in Chromium, but its probabilities move (up to 0.15 on hymenoptera photos, the
    // top-1 of 3 of 153 changed), so it is only chosen by name.
    const quantized = quantizedOps(onnx.model);
    engine = 'onnxruntime-web';
    engineReason = quantized.length
      ? `auto: onnxruntime-web runs model.onnx itself (int8: ${quantized.slice(0, 3).join(', ')}), so the page gives the server's probabilities for the same pixels (its canvas resizes a photo a little differently from the server's libvips, which can move a probability by a few points); --engine tfjs is faster but runs it in float, and borderline answers change`
      : "auto: onnxruntime-web runs model.onnx itself (float), so the page gives the server's probabilities for the same pixels (its canvas resizes a photo a little differently from the server's libvips, which can move a probability by a few points), and faster than TF.js";
  } else {
    engine = requested;
    engineReason = 'chosen';
  }

  let names: string[];
  let model: WebExportInfo;
  if (engine === 'tfjs') {
    const tfjsDir = join(out, TFJS_MODEL_DIR);
    await exportTfjs(root, { out: tfjsDir });
    const metadata = JSON.parse(await readFile(join(tfjsDir, TFJS_METADATA_FILE), 'utf8')) as { preprocessing: Preprocessing };
    const { onnx: _onnx, ...rest } = info;
    model = { ...rest, preprocessing: metadata.preprocessing, engine: 'tfjs', tfjs: { file: `${TFJS_MODEL_DIR}/model.json` } };
    const tfjsDist = tensorflowJsDist();
    for (const file of TFJS_WEB_FILES) await copyFile(join(tfjsDist[file], file), join(out, file));
    await writeFile(join(out, 'classify.js'), CLASSIFY_TFJS_JS);
    await writeFile(join(out, 'index.html'), exampleIndexHtml(model.name, 'tfjs'));
    names = [...TFJS_WEB_FILES, ...(await readdir(tfjsDir)).sort().map((n) => `${TFJS_MODEL_DIR}/${n}`)];
  } else {
    const ortDir = onnxruntimeWebDist();
    model = { ...info, engine };
    await writeFile(join(out, 'model.onnx'), onnx.bytes);
    for (const file of ORT_WEB_FILES) await copyFile(join(ortDir, file), join(out, file));
    await writeFile(join(out, 'classify.js'), CLASSIFY_JS);
    await writeFile(join(out, 'index.html'), exampleIndexHtml(model.name));
    names = ['model.onnx', ...ORT_WEB_FILES];
  }
  await writeFile(join(out, 'model.json'), `${JSON.stringify(model, null, 2)}\n`);
  names = ['index.html', 'classify.js', 'model.json', ...names];
  const files = await Promise.all(names.map(async (name) => ({ name, bytes: (await stat(join(out, name))).size })));
  return { out, files, model, engine, engineReason };
}

/** Operator types of model.onnx that run quantized (QLinearConv, DequantizeLinear, MatMulInteger, ...). */
function quantizedOps(model: ModelProto): string[] {
  const ops = new Set<string>();
  for (const node of model.graph?.node ?? []) {
    const op = node.opType ?? '';
    if (/^QLinear|QuantizeLinear$|Integer$/.test(op)) ops.add(op);
  }
  return [...ops].sort();
}

/** Where each of {@link TFJS_WEB_FILES} is installed. */
function tensorflowJsDist(): Record<(typeof TFJS_WEB_FILES)[number], string> {
  try {
    const require = createRequire(import.meta.url);
    const tf = dirname(require.resolve('@tensorflow/tfjs/dist/tf.min.js'));
    const wasm = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '..', 'dist');
    const dirs = { 'tf.min.js': tf, 'tf-backend-wasm.min.js': wasm, 'tfjs-backend-wasm.wasm': wasm, 'tfjs-backend-wasm-simd.wasm': wasm, 'tfjs-backend-wasm-threaded-simd.wasm': wasm };
    for (const [file, dir] of Object.entries(dirs)) if (!existsSync(join(dir, file))) throw new Error(`${join(dir, file)} is missing`);
    return dirs;
  } catch (cause) {
    throw new GraftError('INTERNAL', `TensorFlow.js is not installed correctly: ${(cause as Error).message}`, {
      cause,
      hint: 'run `npm install` (@tensorflow/tfjs and @tensorflow/tfjs-backend-wasm are dependencies of graft)',
    });
  }
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
