import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * Builds the upload-and-classify page (src/web/app) that `graft serve` serves. Output: dist/web-app, not
 * dist/web, because tsc already emits src/web/*.ts (the web export) into dist/web and Vite empties its outDir.
 */
export default defineConfig({
  root: fileURLToPath(new URL('./src/web/app', import.meta.url)),
  base: './',
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('./dist/web-app', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
  },
});
