// Browser inference speed of a Graft model's two web forms in headless Chromium (issue 5, item 5): which engine
// `graft export --to web` should ship by default.
// Usage: npx tsc -p tsconfig.build.json && node bench/web-engines.mjs [runs=25] [--only=int8,tm] [--webgl]
//   (GRAFT_DIST=<dir> runs against another build folder; GRAFT_SHARED_DIR points at ../shared;
//    GRAFT_CHROMIUM at the browser, default /usr/bin/chromium.)
// For each model (a tiny head trained on the synthetic shapes over the backbone named below):
//   ort   exportWeb's folder (model.onnx, onnxruntime-web wasm: ort.wasm.min.js + ort-wasm-simd-threaded.wasm)
//   tfjs  exportTfjs's folder (TF.js layers model of the whole classifier, NHWC) with tf.min.js + tfjs-backend-wasm
//         (SIMD build; the threaded-SIMD build when cross-origin isolated)
// each served over loopback HTTP twice: plain (no cross-origin isolation: both engines get one thread) and with
// COOP/COEP headers (crossOriginIsolated: SharedArrayBuffer, so both may use navigator.hardwareConcurrency threads).
// Timed: ms per image of the inference call alone (batch 1, a fixed random input tensor created outside the timing,
// output read back to JS: ort's session.run, tfjs's predict + data()), after 5 warm-up runs; median (and p10/p90) of
// `runs` runs. Each (model, isolation, engine) cell runs in a fresh page, cells interleaved, 2 rounds; the JSON line
// carries the median over all runs of both rounds. tfjs-webgl (--webgl) runs on SwiftShader (Chromium's CPU
// rasterizer) here, with --disable-gpu dropped; it says nothing about a real GPU and is off by default.
// Models:
//   int8  mobilenetv2-12-int8.onnx (ONNX Model Zoo, int8 QLinear ops): the ONNX runs quantized in ort; the TF.js
//         conversion dequantizes to float32
//   tm    the Teachable Machine MobileNetV2 0.35 base (TF.js layers, float): both forms are float
import { createServer } from 'node:http';
import { cp, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir, cpus } from 'node:os';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const runs = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 25);
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7).split(',');
const withWebgl = process.argv.includes('--webgl');
const WARMUP = 5;
const ROUNDS = 2;
const repoRoot = resolve(fileURLToPath(import.meta.url), '../..');
const dist = resolve(process.env.GRAFT_DIST ?? resolve(repoRoot, 'dist'));
const shared = process.env.GRAFT_SHARED_DIR ?? resolve(repoRoot, '../shared');
const chromiumPath = process.env.GRAFT_CHROMIUM ?? '/usr/bin/chromium';
const importDist = (p) => import(pathToFileURL(resolve(dist, p)).href);
const { writeSyntheticDataset } = await importDist('data/synthetic.js');
const { train } = await importDist('recipes/train.js');
const { exportWeb } = await importDist('web/export-web.js');
const { exportTfjs } = await importDist('model/export-tfjs.js');
const print = (o) => console.log(JSON.stringify(o));

const MODELS = {
  int8: join(shared, 'models/mobilenetv2-int8-onnx/mobilenetv2-12-int8.onnx'),
  tm: join(shared, 'models/tm-mobilenetv2-035/base/model.json'),
};

const require = createRequire(import.meta.url);
const tfjsDist = dirname(require.resolve('@tensorflow/tfjs/dist/tf.min.js'));
const tfWasmDist = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '..', 'dist');
const TFJS_RUNTIME = [
  [tfjsDist, 'tf.min.js'],
  [tfWasmDist, 'tf-backend-wasm.min.js'],
  [tfWasmDist, 'tfjs-backend-wasm.wasm'],
  [tfWasmDist, 'tfjs-backend-wasm-simd.wasm'],
  [tfWasmDist, 'tfjs-backend-wasm-threaded-simd.wasm'],
];

const CONTENT_TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.json': 'application/json', '.wasm': 'application/wasm' };

/** Loopback static server over one folder; `isolated` adds the COOP/COEP headers that enable crossOriginIsolated. */
async function serve(root, isolated) {
  const server = createServer((req, res) => {
    void (async () => {
      const rel = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).slice(1) || 'index.html');
      if (rel.startsWith('..') || rel.includes(`${sep}..`)) return void res.writeHead(404).end();
      const headers = { 'content-type': CONTENT_TYPES[extname(rel)] ?? 'application/octet-stream' };
      if (isolated) Object.assign(headers, { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' });
      let body;
      try {
        body = await readFile(join(root, rel));
      } catch {
        return void res.writeHead(404).end();
      }
      res.writeHead(200, headers).end(body);
    })();
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((ok) => { server.close(() => ok()); server.closeAllConnections(); }) };
}

// In-page timing. `kind`: 'ort' | 'tfjs-wasm' | 'tfjs-webgl'; `dir`: the model's folder under the server root.
const PAGE_BENCH = `async ({ kind, dir, runs, warmup }) => {
  const threads = self.crossOriginIsolated ? (navigator.hardwareConcurrency || 1) : 1;
  const info = { crossOriginIsolated: self.crossOriginIsolated, hardwareConcurrency: navigator.hardwareConcurrency };
  const load0 = performance.now();
  let run;
  if (kind === 'ort') {
    const meta = await (await fetch(dir + '/model.json')).json();
    ort.env.wasm.wasmPaths = new URL(dir + '/', location.href).href;
    ort.env.wasm.numThreads = threads;
    const session = await ort.InferenceSession.create(dir + '/model.onnx', { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
    const s = meta.preprocessing.inputSize;
    const shape = meta.preprocessing.layout === 'nchw' ? [1, 3, s, s] : [1, s, s, 3];
    const data = new Float32Array(3 * s * s).map(() => Math.random() * 2 - 1);
    const input = new ort.Tensor('float32', data, shape);
    run = async () => { const r = await session.run({ [meta.onnx.input]: input }, [meta.onnx.probabilities]); return r[meta.onnx.probabilities].data; };
    Object.assign(info, { threads: ort.env.wasm.numThreads, version: ort.env.versions && ort.env.versions.web });
  } else {
    if (kind === 'tfjs-wasm') {
      tf.wasm.setWasmPaths(new URL('runtime/', location.href).href);
      if (self.crossOriginIsolated) tf.wasm.setThreadsCount(threads);
      if (!(await tf.setBackend('wasm'))) throw new Error('no wasm backend');
      Object.assign(info, { threads: tf.wasm.getThreadsCount(), simd: await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'), multithread: await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT') });
    } else {
      if (!(await tf.setBackend('webgl'))) throw new Error('no webgl backend');
      const gl = document.createElement('canvas').getContext('webgl2');
      const ext = gl && gl.getExtension('WEBGL_debug_renderer_info');
      info.renderer = ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : gl ? gl.getParameter(gl.RENDERER) : 'none';
    }
    await tf.ready();
    info.backend = tf.getBackend();
    info.version = tf.version.tfjs;
    const meta = await (await fetch(dir + '/graft-model.json')).json();
    const model = await tf.loadLayersModel(dir + '/model.json');
    const s = meta.preprocessing.inputSize;
    const input = tf.randomUniform([1, s, s, 3], -1, 1);
    // The first output is the probabilities; a second, when present, the pooled features (computed on the way).
    run = async () => { const y = model.predict(input); const ys = Array.isArray(y) ? y : [y]; const d = await ys[0].data(); tf.dispose(ys); return d; };
  }
  for (let i = 0; i < warmup; i++) await run();
  info.loadAndWarmupMs = Math.round(performance.now() - load0);
  const ms = [];
  let sum = 0;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const out = await run();
    ms.push(performance.now() - t);
    sum += out[0];
  }
  return { ms, info, check: sum };
}`;

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const round = (x) => Math.round(x * 10) / 10;

async function main() {
  const started = Date.now();
  const work = join(tmpdir(), `graft-web-engines-${process.pid}`);
  await mkdir(work, { recursive: true });
  const { chromium } = await import('playwright-core');
  const profile = join(work, 'profile');
  const baseArgs = ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: [...baseArgs, ...(withWebgl ? ['--use-angle=swiftshader', '--enable-unsafe-swiftshader'] : ['--disable-gpu'])],
  });
  const servers = [];
  try {
    const site = join(work, 'site');
    await mkdir(join(site, 'runtime'), { recursive: true });
    for (const [from, file] of TFJS_RUNTIME) await cp(join(from, file), join(site, 'runtime', file));
    await writeFile(join(site, 'index.html'), '<!doctype html><meta charset="utf-8"><title>bench</title>');
    const data = await writeSyntheticDataset(join(work, 'shapes'), { perClass: 8 });
    const models = Object.entries(MODELS).filter(([name]) => !only || only.includes(name));
    for (const [name, backbone] of models) {
      const t0 = Date.now();
      const dir = join(work, `model-${name}`);
      await train({ train: data.root, backbone, out: dir, cacheDir: join(work, 'cache'), offline: true });
      const auto = await exportWeb(dir, { out: join(work, `auto-${name}`) });
      await exportWeb(dir, { out: join(site, `${name}-ort`), engine: 'onnxruntime-web' });
      const tfjs = await exportTfjs(dir, { out: join(site, `${name}-tfjs`) });
      const bytes = async (folder, names) => (await Promise.all(names.map(async (n) => (await stat(join(site, folder, n))).size))).reduce((a, b) => a + b, 0);
      const onnxBytes = await bytes(`${name}-ort`, ['model.onnx']);
      const tfjsBytes = await bytes(`${name}-tfjs`, (await readdir(join(site, `${name}-tfjs`))).filter((n) => n !== 'graft-model.json'));
      print({ kind: 'setup', model: name, backbone, autoEngine: auto.engine, autoReason: auto.engineReason, onnxBytes, tfjsBytes, trainAndExportS: round((Date.now() - t0) / 1000), tfjsCheckMaxAbsDiff: tfjs.conversion.check.maxAbsDiff, tfjsNotes: tfjs.conversion.notes ?? [] });
    }
    const plain = await serve(site, false);
    const isolated = await serve(site, true);
    servers.push(plain, isolated);
    const kinds = ['ort', 'tfjs-wasm', ...(withWebgl ? ['tfjs-webgl'] : [])];
    const cells = [];
    for (const [name] of models) {
      for (const iso of [false, true]) for (const kind of kinds) if (!(kind === 'tfjs-webgl' && iso)) cells.push({ name, iso, kind, ms: [], info: undefined, error: undefined });
    }
    for (let r = 0; r < ROUNDS; r++) {
      for (const cell of r % 2 ? [...cells].reverse() : cells) {
        if (cell.error) continue;
        const page = await context.newPage();
        try {
          await page.goto(`${(cell.iso ? isolated : plain).url}/index.html`);
          await page.addScriptTag({ url: cell.kind === 'ort' ? `${cell.name}-ort/ort.wasm.min.js` : 'runtime/tf.min.js' });
          if (cell.kind === 'tfjs-wasm') await page.addScriptTag({ url: 'runtime/tf-backend-wasm.min.js' });
          const dir = `${cell.name}-${cell.kind === 'ort' ? 'ort' : 'tfjs'}`;
          const result = await page.evaluate(`(${PAGE_BENCH})(${JSON.stringify({ kind: cell.kind, dir, runs, warmup: WARMUP })})`);
          cell.ms.push(...result.ms);
          cell.info = result.info;
        } catch (e) {
          cell.error = String(e.message ?? e).split('\n')[0];
        } finally {
          await page.close();
        }
      }
    }
    const summary = {};
    for (const cell of cells) {
      const sorted = [...cell.ms].sort((a, b) => a - b);
      const median = sorted.length ? round(quantile(sorted, 0.5)) : undefined;
      if (median !== undefined) (summary[`${cell.name}/${cell.iso ? 'isolated' : 'plain'}`] ??= {})[cell.kind] = median;
      print({ kind: 'timing', model: cell.name, crossOriginIsolated: cell.iso, engine: cell.kind, n: sorted.length, medianMs: median, p10Ms: sorted.length ? round(quantile(sorted, 0.1)) : undefined, p90Ms: sorted.length ? round(quantile(sorted, 0.9)) : undefined, info: cell.info, error: cell.error });
    }
    for (const [key, byEngine] of Object.entries(summary)) {
      const [model, serving] = key.split('/');
      const [winner, best] = Object.entries(byEngine).filter(([k]) => k !== 'tfjs-webgl').sort((a, b) => a[1] - b[1])[0] ?? [];
      print({ kind: 'winner', model, serving, winner, medianMs: best, all: byEngine, tfjsOverOrt: byEngine['tfjs-wasm'] && byEngine.ort ? Math.round((byEngine['tfjs-wasm'] / byEngine.ort) * 100) / 100 : undefined });
    }
    print({ kind: 'env', cpus: cpus().length, chromium: context.browser()?.version() ?? (await context.pages()[0]?.evaluate('navigator.userAgent')), totalS: round((Date.now() - started) / 1000) });
  } finally {
    for (const s of servers) await s.close();
    await context.close();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
