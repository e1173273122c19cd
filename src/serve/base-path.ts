import type { FastifyInstance } from 'fastify';
import { GraftError } from '../core/errors.js';
import { relativeLocation } from './relative-location.js';

/**
 * The path a reverse proxy publishes the server under when it passes that path on rather than cutting it off (nginx's
 * `proxy_pass` without a trailing slash, a Kubernetes ingress without a rewrite): `/graft`, no trailing slash.
 * Undefined for none (`/` or nothing given).
 * @param where how the user gave it, for the message (`--base-path`)
 * @throws GraftError INVALID_CONFIG for a path that does not start with `/`, or holds a query, a fragment, a percent
 *   sign, `.` or `..` segments, an empty segment or a space.
 */
export function checkBasePath(value: string | undefined, where: string): string | undefined {
  if (value === undefined) return undefined;
  const path = value.replace(/\/+$/, '');
  if (path === '') return undefined;
  const segments = path.split('/').slice(1);
  if (!path.startsWith('/') || /[?#%\s\\]/.test(path) || segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw new GraftError('INVALID_CONFIG', `${where} ${JSON.stringify(value)} is not a URL path such as /graft.`, {
      hint: 'give the path the proxy publishes the server under, starting with / (letters, digits, - _ . ~ and / between parts)',
    });
  }
  return path;
}

/**
 * The path an `X-Forwarded-Prefix` header names, when it is one `checkBasePath` takes (the first, where a proxy chain
 * sent several); undefined otherwise, never an error: the header is the client's to send.
 */
export function forwardedPrefixOf(header: string | string[] | undefined): string | undefined {
  const value = (Array.isArray(header) ? header[0] : header)?.split(',')[0]?.trim();
  try {
    return checkBasePath(value, 'X-Forwarded-Prefix');
  } catch {
    return undefined;
  }
}

/**
 * fastify's `rewriteUrl` for a base path: `/graft/v1/models` is routed as `/v1/models`. A URL without the base path
 * is routed as it is, so probes and scripts that reach the server directly (Kubernetes' /healthz) still answer.
 */
export function stripBasePath(basePath: string): (request: { url?: string }) => string {
  return (request) => {
    const url = request.url ?? '/';
    return url.startsWith(`${basePath}/`) ? url.slice(basePath.length) : url;
  };
}

/**
 * Answers the base path itself (`/graft`, no slash) with a redirect to `graft/`: the pages' relative addresses
 * resolve against the folder, which `/graft` alone is not. Registered before every other hook of the request.
 */
export function registerBasePathRedirect(app: FastifyInstance, basePath: string): void {
  const into = relativeLocation(basePath, `${basePath}/`);
  app.addHook('onRequest', async (request, reply) => {
    const [path, query] = splitQuery(request.originalUrl);
    if (path === basePath) return reply.redirect(`${into}${query}`, 308);
    return undefined;
  });
}

function splitQuery(url: string): [string, string] {
  const at = url.indexOf('?');
  return at < 0 ? [url, ''] : [url.slice(0, at), url.slice(at)];
}
