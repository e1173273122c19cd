// Stamping (stat of every listed file) before `graft train` reads a manifest: time and peak RSS for 200 000 rows
// that repeat the 120-odd images of hymenoptera's ants, as a manifest listing each file many times does.
// Usage: npm run build && node bench/stamp-files.mjs [dist/features/file-hash-index.js of another build]
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
const module = process.argv[2] ?? new URL('../dist/features/file-hash-index.js', import.meta.url).pathname;
const { FileHashIndex } = await import(pathToFileURL(module).href);
const root = join(process.env.GRAFT_SHARED_DIR ?? new URL('../../shared', import.meta.url).pathname, 'datasets/hymenoptera/train/ants');
const base = readdirSync(root).map((f) => join(root, f));
const files = Array.from({ length: 200000 }, (_, i) => base[i % base.length]);
const before = process.memoryUsage().rss;
let peak = before;
const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 5);
const t = performance.now();
const stamps = await FileHashIndex.stamp(files);
clearInterval(timer);
console.log(`${stamps.length} stamps in ${(performance.now() - t).toFixed(0)} ms, rss ${(before / 1e6).toFixed(0)} -> peak ${(peak / 1e6).toFixed(0)} MB`);
