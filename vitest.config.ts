import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Assembles the WAT kernels and bundles the browser's classify.js into src/**/*.generated.ts (gitignored), so
    // a run from the sources never sees stale or missing generated modules.
    globalSetup: ['scripts/generate.mjs'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Engines (ORT, tfjs-wasm) use both cores; running files in parallel only adds contention.
    fileParallelism: false,
    reporters: ['default'],
  },
});
