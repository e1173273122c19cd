import { isWithin } from '../core/is-within.js';
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { ServeError } from './serve-error.js';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * Serves the files under `root` at `/` (a folder's index.html for a folder). GET only. 404: paths that leave the
 * root, by name or through a symbolic link (the real path is checked), and hidden files and folders (a `.git` or
 * `.env` copied along with a site is not published).
 * The API routes are registered as static paths, which fastify matches before this wildcard.
 */
export function registerStaticFiles(app: FastifyInstance, root: string): void {
  const base = resolve(root);
  let realBase: Promise<string> | undefined;
  app.get('/*', async (request, reply) => {
    // fastify has already percent-decoded the wildcard; decoding it again would turn /%25 into an error (500)
    // and /%252e%252e into "..".
    const wildcard = (request.params as { '*': string })['*'] ?? '';
    let file = resolve(join(base, wildcard));
    if (!isWithin(file, base) || isHidden(file.slice(base.length))) throw notFound(wildcard);
    let info = await stat(file).catch(() => undefined);
    if (info?.isDirectory()) {
      file = join(file, 'index.html');
      info = await stat(file).catch(() => undefined);
    }
    if (!info?.isFile()) throw notFound(wildcard);
    realBase ??= realpath(base);
    const real = await realpath(file).catch(() => undefined);
    if (real === undefined || !isWithin(real, await realBase)) throw notFound(wildcard);
    return reply
      .type(CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream')
      .header('content-length', info.size)
      .header('cache-control', 'no-cache')
      .send(createReadStream(file));
  });
}

function isHidden(relative: string): boolean {
  return relative.split(sep).some((part) => part.startsWith('.'));
}

function notFound(path: string): ServeError {
  return new ServeError('NOT_FOUND', `No file /${path} here.`);
}
