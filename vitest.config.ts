import { readdirSync, readFileSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

/**
 * Test files that replace a module (`vi.mock`): they need a module registry of their own, since in a shared worker a
 * module an earlier file loaded would be reused unmocked. Found by reading the files, so a new one cannot be missed.
 */
const mockingFiles = (readdirSync('test', { recursive: true }) as string[])
  .map((path) => `test/${path.split('\\').join('/')}`)
  .filter((path) => path.endsWith('.test.ts') && /\bvi\.(?:do)?mock\(/.test(readFileSync(path, 'utf8')));

export default defineConfig({
  test: {
    // Assembles the WAT kernels and bundles the browser's classify.js into src/**/*.generated.ts (gitignored), so
    // a run from the sources never sees stale or missing generated modules.
    // test/run-temp-dir.ts gives the run a temporary folder of its own, removed when it ends.
    globalSetup: ['scripts/generate.mjs', 'test/run-temp-dir.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Engines (ORT, tfjs-wasm) use both cores; running files in parallel only adds contention.
    fileParallelism: false,
    reporters: ['default'],
    projects: [
      {
        // The fast files share one worker: a fresh process per file re-imported tfjs, sharp, onnxruntime and the
        // sources each time, about half of `npm run test:fast`'s wall time.
        extends: true,
        test: { name: 'shared', include: ['test/**/*.test.ts'], exclude: ['**/*.slow.test.ts', ...mockingFiles], isolate: false },
      },
      {
        // The slow files (their peak memory and timings are their own) and the mocking ones: a fresh process each.
        extends: true,
        test: { name: 'isolated', include: ['test/**/*.slow.test.ts', ...mockingFiles], isolate: true },
      },
    ],
  },
});
