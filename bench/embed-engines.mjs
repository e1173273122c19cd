// `graft embed` with a TF.js backbone (the Teachable Machine MobileNetV2 0.35 base) run two ways in one run:
// tfjs-wasm (--engine tfjs) and onnxruntime on Graft's cached ONNX export (the default). Cold feature cache
// each time; the first ORT run includes the export, the second reuses it.
// Usage: npm run build && node bench/embed-engines.mjs [dataset-dir] [backbone-dir]
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const shared = resolve(process.env.GRAFT_SHARED_DIR ?? join(repo, '../shared'));
const dataset = resolve(process.argv[2] ?? join(shared, 'datasets/hymenoptera/train'));
const backbone = resolve(process.argv[3] ?? join(shared, 'models/tm-mobilenetv2-035/base'));
const modelCache = mkdtempSync(join(tmpdir(), 'graft-engines-'));

function embed(engine, cacheDir) {
  const t = performance.now();
  const run = spawnSync(process.execPath, [join(repo, 'bin/graft.js'), 'embed', dataset, '--backbone', backbone, '--engine', engine, '--cache-dir', cacheDir, '--json'], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(run.stderr);
  const json = JSON.parse(run.stdout);
  return { engine, img_per_s: json.img_per_s, seconds: json.seconds, wall_s: Math.round((performance.now() - t) / 100) / 10, computed: json.computed };
}
const fresh = () => mkdtempSync(join(tmpdir(), 'graft-engines-cache-'));
// Features go to fresh caches; exports to one shared folder, so the second ORT run reuses the export.
const tfjs = embed('tfjs', fresh());
const ortFirst = embed('onnxruntime', modelCache);
const cacheWithExport = modelCache;
const { rmSync } = await import('node:fs');
rmSync(join(cacheWithExport, 'features-v1.sqlite'), { force: true });
rmSync(join(cacheWithExport, 'files-v1.sqlite'), { force: true });
const ortAgain = embed('onnxruntime', cacheWithExport);
console.log(JSON.stringify({ dataset, backbone, tfjs, ort_with_export: ortFirst, ort_cached_export: ortAgain, speedup: Math.round((ortAgain.img_per_s / tfjs.img_per_s) * 10) / 10 }, null, 2));
