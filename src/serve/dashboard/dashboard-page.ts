import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { relativeLocation } from '../relative-location.js';
import { ServeError } from '../serve-error.js';

/** The page's files: plain HTML, CSS and `// @ts-check` JS, served as they are (no build step). */
const PAGE_FILES: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'dashboard.js': 'text/javascript; charset=utf-8',
  'dashboard.css': 'text/css; charset=utf-8',
  'webcam-samples.js': 'text/javascript; charset=utf-8',
  'try-model.js': 'text/javascript; charset=utf-8',
  'paced-announcer.js': 'text/javascript; charset=utf-8',
  'failure-ties.js': 'text/javascript; charset=utf-8',
  'chart-table.js': 'text/javascript; charset=utf-8',
};

/**
 * The dashboard page's folder: the sources in `<package>/src/web/dashboard` when present (a checkout: never a stale
 * copy), else `<package>/dist/web-dashboard`, where the build copies them for the published package.
 */
export function dashboardWebRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) {
      return [join(dir, 'src', 'web', 'dashboard'), join(dir, 'dist', 'web-dashboard')].find((root) => existsSync(join(root, 'index.html')));
    }
    dir = resolve(dir, '..');
  }
  return undefined;
}

/** Serves the page at /dashboard/ (only its own files; nothing else under the folder is reachable). */
export function registerDashboardPage(app: FastifyInstance, webRoot = dashboardWebRoot()): void {
  app.get('/dashboard', async (_request, reply) => reply.redirect(relativeLocation('/dashboard', '/dashboard/')));
  app.get('/dashboard/', async (_request, reply) => sendFile(reply, 'index.html'));
  app.get('/dashboard/:file', async (request, reply) => sendFile(reply, (request.params as { file: string }).file));

  async function sendFile(reply: import('fastify').FastifyReply, file: string): Promise<unknown> {
    const type = PAGE_FILES[file];
    if (!type || !webRoot) throw new ServeError('NOT_FOUND', `No dashboard file ${file}${webRoot ? '' : ' (the page is not installed)'}.`);
    return reply.type(type).header('cache-control', 'no-cache').send(await readFile(join(webRoot, file)));
  }
}
