// The default head's cross-validation tables (every candidate scored, and the one chosen), for every dataset in
// ../shared/datasets, both reference backbones and seeds 1-3: a change meant to make the selection faster, not
// different, must leave them the same to the bit, and --compare says whether it did.
// Usage: npm run build && node bench/cv-tables.mjs [--datasets a,b] [--backbones int8,tm] [--seeds 1,2,3]
//          [--extra name=dir,...] [--out bench/out/cv-tables.jsonl]
//        node bench/cv-tables.mjs --compare before.jsonl after.jsonl
// --extra adds training folders of your own (their file names are grouped as gtsrb43's, by track).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);

if (args[0] === '--compare') {
  const load = (file) => readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
  const [before, after] = [load(args[1]), load(args[2])];
  const key = (r) => `${r.name} ${r.backbone} seed ${r.seed}`;
  const entry = (t) => `${t.trainViews}/${t.tta}/${t.c}`;
  let same = 0;
  let shorter = 0;
  for (const b of after) {
    const a = before.find((r) => key(r) === key(b));
    if (!a) {
      console.log(`${key(b)}: not in ${args[1]}`);
      continue;
    }
    const entries = new Map(a.table.map((t) => [entry(t), JSON.stringify(t)]));
    const differs = b.table.filter((t) => entries.get(entry(t)) !== JSON.stringify(t)).length;
    const chosenSame = JSON.stringify(a.chosen) === JSON.stringify(b.chosen);
    if (chosenSame && differs === 0) same++;
    if (b.table.length < a.table.length) shorter++;
    if (!chosenSame || differs > 0 || b.table.length !== a.table.length)
      console.log(`${key(b)}: chosen ${chosenSame ? 'same' : 'DIFFERENT'}, ${differs} entries differ, ${a.table.length} -> ${b.table.length} entries`);
  }
  console.log(`${same} of ${after.length} runs: the same chosen candidate and the same scores in every entry; ${shorter} tables shorter`);
  process.exit(same === after.length ? 0 : 1);
}

const { train } = await import('../dist/recipes/train.js');
const shared = resolve(process.env.GRAFT_SHARED_DIR ?? '../shared');
const cacheDir = process.env.GRAFT_CACHE_DIR ?? join(tmpdir(), 'graft-bench-cache');
const backbones = {
  int8: join(shared, 'models/mobilenetv2-int8-onnx/mobilenetv2-12-int8.onnx'),
  tm: join(shared, 'models/tm-mobilenetv2-035/base/model.json'),
};
const TRACKS = '^(\\d+_\\d+)_';
const sets = [
  ...opt('datasets', 'hymenoptera,flowers12,dtd10,plantseedlings12,gtsrb43')
    .split(',')
    .map((name) => ({ name, dir: join(shared, 'datasets', name, 'train'), groupBy: name === 'gtsrb43' ? TRACKS : undefined })),
  ...(opt('extra', '') ? opt('extra').split(',') : []).map((spec) => ({ name: spec.split('=')[0], dir: spec.split('=')[1], groupBy: TRACKS })),
];
const outFile = opt('out', 'bench/out/cv-tables.jsonl');
mkdirSync('bench/out', { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'graft-cv-tables-'));
const lines = [];
try {
  for (const { name, dir, groupBy } of sets) {
    for (const backbone of opt('backbones', 'int8,tm').split(',')) {
      for (const seed of opt('seeds', '1,2,3').split(',').map(Number)) {
        const out = join(work, `${name}-${backbone}-${seed}`);
        const result = await train({ train: dir, backbone: backbones[backbone], out, cacheDir, config: { seed, ...(groupBy ? { groupBy } : {}) } });
        const { selection } = JSON.parse(readFileSync(join(out, 'graft.json'), 'utf8')).training.outcome;
        const line = { name, backbone, seed, chosen: selection.chosen, table: selection.table, train_s: result.timings.train_s };
        console.log(JSON.stringify({ name, backbone, seed, entries: line.table.length, train_s: line.train_s }));
        lines.push(JSON.stringify(line));
      }
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
writeFileSync(outFile, `${lines.join('\n')}\n`);
console.log(`wrote ${outFile}`);
