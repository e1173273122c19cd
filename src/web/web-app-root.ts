import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The built upload page (`vite build` of src/web/app) inside this package: `<package>/dist/web-app`.
 * Resolves from the source tree and from dist alike. `graft serve` passes it as `webRoot`.
 * Returns undefined when the page has not been built (`npm run build` builds it).
 */
export function webAppRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json'))) {
      const root = join(dir, 'dist', 'web-app');
      return existsSync(join(root, 'index.html')) ? root : undefined;
    }
    dir = resolve(dir, '..');
  }
  return undefined;
}
