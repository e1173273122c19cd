import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraftError } from '../../src/core/errors.js';
import { checkBasePath, forwardedPrefixOf } from '../../src/serve/base-path.js';
import { startDashboardServer } from '../../src/serve/dashboard/start-dashboard-server.js';
import { openApiDocument } from '../../src/serve/openapi-document.js';
import { tempDir } from '../support.js';

describe('--base-path: a server that a reverse proxy publishes under a path it passes on', () => {
  it('takes a URL path, with or without its trailing slash, and refuses what is not one', () => {
    expect(checkBasePath('/graft', '--base-path')).toBe('/graft');
    expect(checkBasePath('/ml/graft/', '--base-path')).toBe('/ml/graft');
    expect(checkBasePath('/', '--base-path')).toBeUndefined();
    expect(checkBasePath(undefined, '--base-path')).toBeUndefined();
    for (const bad of ['graft', '/a/../b', '/a/./b', '/a//b', '/a?b', '/a#b', '/a%2fb', '/a b', '\\graft']) {
      expect(() => checkBasePath(bad, '--base-path'), bad).toThrow(GraftError);
    }
    expect(() => checkBasePath('graft', '--base-path')).toThrow(/--base-path "graft" is not a URL path such as \/graft/);
  });

  it("is the OpenAPI document's server, relative to the document's address (none without it)", () => {
    expect(openApiDocument({ modelNames: ['bees'], isTokenRequired: false, basePath: '/graft' }).servers).toEqual([{ url: '/graft', description: expect.stringContaining('--base-path') }]);
    expect(openApiDocument({ modelNames: ['bees'], isTokenRequired: false })).not.toHaveProperty('servers');
  });

  it("takes a proxy's X-Forwarded-Prefix as the document's server when it is a path, and --base-path before it", () => {
    expect(forwardedPrefixOf('/graft')).toBe('/graft');
    expect(forwardedPrefixOf('/ml/graft/, /outer')).toBe('/ml/graft');
    expect(forwardedPrefixOf(['/a', '/b'])).toBe('/a');
    for (const bad of [undefined, '', '/', 'graft', '//evil.example', 'https://evil.example/x', '/a/../b', '/a b']) expect(forwardedPrefixOf(bad), String(bad)).toBeUndefined();
    expect(openApiDocument({ modelNames: ['bees'], isTokenRequired: false, forwardedPrefix: '/graft' }).servers).toEqual([{ url: '/graft', description: expect.stringContaining('X-Forwarded-Prefix') }]);
    expect(openApiDocument({ modelNames: ['bees'], isTokenRequired: false, basePath: '/kept', forwardedPrefix: '/graft' }).servers).toEqual([{ url: '/kept', description: expect.stringContaining('--base-path') }]);
  });

  let root: string;
  let server: Awaited<ReturnType<typeof startDashboardServer>>;
  let origin: string;
  beforeAll(async () => {
    root = await tempDir('graft-base-path-');
    server = await startDashboardServer({ dataDir: join(root, 'ui'), port: 0, basePath: '/graft/' });
    origin = new URL(server.url).origin;
  });
  afterAll(async () => {
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('routes paths under it without it, still answers paths without it, and redirects the bare path into it', async () => {
    expect(server.url).toBe(`${origin}/graft`);
    const get = (path: string, headers: Record<string, string> = {}) => fetch(`${origin}${path}`, { redirect: 'manual', headers });
    const bare = await get('/graft?x=1');
    expect(bare.status).toBe(308);
    expect(bare.headers.get('location')).toBe('graft/?x=1');
    expect((await get('/graft/healthz')).status).toBe(200);
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/graftx/healthz', { authorization: `Bearer ${server.token}` })).status).toBe(404);
    // The token link under the base path: a cookie, and back to the same folder without the token.
    const link = await get(`/graft/dashboard/?token=${server.token}`);
    expect(link.status).toBe(303);
    expect(new URL(link.headers.get('location')!, link.url).href).toBe(`${origin}/graft/dashboard/`);
    const cookie = (link.headers.get('set-cookie') ?? '').split(';')[0]!;
    expect((await get('/graft/v1/projects', { cookie })).status).toBe(200);
    const home = await get('/graft/', { cookie });
    expect(new URL(home.headers.get('location')!, home.url).href).toBe(`${origin}/graft/dashboard/`);
  });
});
