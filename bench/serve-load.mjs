// Load test for `graft serve`: autocannon posts real JPEGs at 1, 8 and 32 concurrent connections against
// startServer running in a child process (so the load generator does not share its event loop), and the
// same run measures the limits: a raw onnxruntime loop on pre-decoded tensors (same model.onnx, same
// session settings), decoding alone, and the decode+forward ceiling 1 / (1/decode + 1/forward) that
// DESIGN.md names for a 2-core machine where both share the cores.
// Run: npm run build && node bench/serve-load.mjs [seconds per case, 5]
// The model is trained here, into a temp dir, on hymenoptera with the int8 MobileNetV2 from ../shared when
// present (GRAFT_SHARED_DIR overrides ../shared), else on the synthetic set with the bundled nsfwjs backbone.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import * as ort from 'onnxruntime-node';
import { decodeImageBytes } from '../dist/data/decode-image.js';
import { writeSyntheticDataset } from '../dist/data/synthetic.js';
import { createSession } from '../dist/runtime/ort-session.js';
import { train } from '../dist/recipes/train.js';

const here = dirname(fileURLToPath(import.meta.url));
const seconds = Number(process.argv[2] ?? 5);
const shared = resolve(process.env.GRAFT_SHARED_DIR ?? join(here, '../../shared'));
const int8 = join(shared, 'models/mobilenetv2-int8-onnx/mobilenetv2-12-int8.onnx');
const bees = join(shared, 'datasets/hymenoptera');
const hasShared = existsSync(int8) && existsSync(join(bees, 'train'));

const work = await mkdtemp(join(tmpdir(), 'graft-serve-load-'));
const modelDir = join(work, 'model');
let jpegFiles;
if (hasShared) {
  await train({ train: join(bees, 'train'), val: join(bees, 'val'), backbone: int8, out: modelDir, cacheDir: join(work, 'cache'), offline: true });
  jpegFiles = [];
  for (const label of ['ants', 'bees']) {
    const files = (await readdir(join(bees, 'val', label))).filter((f) => f.endsWith('.jpg')).sort().slice(0, 4);
    jpegFiles.push(...files.map((f) => join(bees, 'val', label, f)));
  }
} else {
  const ds = await writeSyntheticDataset(join(work, 'ds'), { perClass: 8 });
  await train({ train: ds.trainDir, val: ds.valDir, backbone: 'nsfwjs_mobilenet_v2', out: modelDir, cacheDir: join(work, 'cache'), offline: true });
  jpegFiles = ds.files.filter((f) => f.endsWith('.jpg')).slice(0, 8);
}
const manifest = JSON.parse(await readFile(join(modelDir, 'graft.json'), 'utf8'));
const pre = manifest.preprocessing;
const jpegs = await Promise.all(jpegFiles.map((f) => readFile(f)));
const meanKb = jpegs.reduce((s, b) => s + b.length, 0) / jpegs.length / 1024;
console.log(`model: ${manifest.backbone.name} + head, ${manifest.labels.length} labels; ${jpegs.length} JPEGs, mean ${meanKb.toFixed(0)} KB; ${seconds} s per case`);

// --- the limits, measured before the server starts so nothing else runs ---
const tensors = await Promise.all(jpegs.map((b) => decodeImageBytes(b, pre)));
const perImage = pre.inputSize * pre.inputSize * 3;
const session = await createSession(join(modelDir, manifest.files.onnx));
async function rawOrt(batch) {
  const input = new Float32Array(batch * perImage);
  for (let i = 0; i < batch; i++) input.set(tensors[i % tensors.length], i * perImage);
  const dims = pre.layout === 'nchw' ? [batch, 3, pre.inputSize, pre.inputSize] : [batch, pre.inputSize, pre.inputSize, 3];
  const feed = { [session.inputNames[0]]: new ort.Tensor('float32', input, dims) };
  await session.run(feed, ['probabilities']); // warm-up
  let images = 0;
  const started = performance.now();
  while (performance.now() - started < seconds * 1000) {
    const out = await session.run(feed, ['probabilities']);
    for (const t of Object.values(out)) t.dispose();
    images += batch;
  }
  return images / ((performance.now() - started) / 1000);
}
async function decodeOnly(inFlight) {
  let images = 0;
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (performance.now() - started < seconds * 1000) {
      await decodeImageBytes(jpegs[next++ % jpegs.length], pre);
      images++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return images / ((performance.now() - started) / 1000);
}
const ortB8 = await rawOrt(8);
const ortB32 = await rawOrt(32);
await session.release();
const decode4 = await decodeOnly(4);
const forward = Math.max(ortB8, ortB32);
const ceiling = 1 / (1 / decode4 + 1 / forward);

// --- the server, in its own process ---
const serverScript = `
  import { startServer } from ${JSON.stringify(new URL('../dist/serve/start-server.js', import.meta.url).href)};
  const server = await startServer({ models: [${JSON.stringify(modelDir)}], port: 0, watch: false });
  process.stdout.write(server.url + '\\n');
  process.on('SIGTERM', () => server.close().then(() => process.exit(0)));
`;
const child = spawn(process.execPath, ['--input-type=module', '-e', serverScript], { stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise((resolveUrl, reject) => {
  child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  child.stdout.once('data', (chunk) => resolveUrl(String(chunk).trim()));
});
const predictUrl = `${url}/v1/models/model/predict`;
const requests = jpegs.map((body) => ({ method: 'POST', path: '/v1/models/model/predict', headers: { 'content-type': 'image/jpeg' }, body }));

async function batchStats() {
  const text = await (await fetch(`${url}/metrics`)).text();
  const count = Number(/^graft_batch_size_count\{model="model"\} (\S+)/m.exec(text)?.[1] ?? 0);
  const sum = Number(/^graft_batch_size_sum\{model="model"\} (\S+)/m.exec(text)?.[1] ?? 0);
  return { count, sum };
}

await autocannon({ url: predictUrl, connections: 4, duration: 1, requests }); // warm-up
const rows = [];
for (const connections of [1, 8, 32]) {
  const before = await batchStats();
  const result = await autocannon({ url: predictUrl, connections, duration: seconds, requests });
  const after = await batchStats();
  rows.push({
    connections,
    reqPerSec: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
    meanBatch: (after.sum - before.sum) / Math.max(1, after.count - before.count),
  });
}
child.kill('SIGTERM');

const pad = (v, n) => String(v).padStart(n);
console.log('\n| case | img/s | p50 ms | p99 ms | errors | mean ORT batch | vs raw ORT | vs ceiling |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
console.log(`| raw ORT, pre-decoded, batch 8 | ${ortB8.toFixed(0)} | | | | 8 | | |`);
console.log(`| raw ORT, pre-decoded, batch 32 | ${ortB32.toFixed(0)} | | | | 32 | | |`);
console.log(`| decode only (sharp, 4 in flight) | ${decode4.toFixed(0)} | | | | | | |`);
console.log(`| ceiling 1/(1/decode + 1/forward) | ${ceiling.toFixed(0)} | | | | | | |`);
for (const r of rows) {
  console.log(
    `| graft serve, ${pad(r.connections, 2)} conn | ${r.reqPerSec.toFixed(0)} | ${r.p50} | ${r.p99} | ${r.errors} | ${r.meanBatch.toFixed(1)} | ${(r.reqPerSec / forward).toFixed(2)}x | ${(r.reqPerSec / ceiling).toFixed(2)}x |`,
  );
}
