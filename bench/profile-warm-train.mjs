// A CPU profile of one `train()` in a process that has trained twice already (compiled, caches open): where a warm
// selection's time goes. Writes a .cpuprofile (open it in Chrome DevTools' Performance panel, or VS Code) and
// prints the run's milliseconds. Features must already be cached (GRAFT_CACHE_DIR).
// Usage: npm run build && node bench/profile-warm-train.mjs <train-dir> --backbone <model> [--out warm.cpuprofile]
import { Session } from 'node:inspector/promises';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train } from '../dist/index.js';

const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);
const work = mkdtempSync(join(tmpdir(), 'graft-profile-'));
const options = (i) => ({ train: args[0], backbone: opt('backbone'), out: join(work, `m${i}`), ...(process.env.GRAFT_CACHE_DIR ? { cacheDir: process.env.GRAFT_CACHE_DIR } : {}) });
await train(options(0));
await train(options(1));
const session = new Session();
session.connect();
await session.post('Profiler.enable');
// 200 us between samples: a warm run takes well under a second.
await session.post('Profiler.setSamplingInterval', { interval: 200 });
await session.post('Profiler.start');
const started = performance.now();
await train(options(2));
const ms = performance.now() - started;
const { profile } = await session.post('Profiler.stop');
const out = opt('out', 'warm.cpuprofile');
writeFileSync(out, JSON.stringify(profile));
rmSync(work, { recursive: true, force: true });
console.log(JSON.stringify({ ms: Math.round(ms), profile: out }));
