import { resolve } from 'node:path';
import type { AccessLogEntry } from '../access-log.js';
import { AccessToken, checkToken, generateToken } from '../access/access-token.js';
import { checkBasePath } from '../base-path.js';
import { createApp, listenOn } from '../create-app.js';
import { acceptRawImages } from '../image-input.js';
import { relativeLocation } from '../relative-location.js';
import { ServerMetrics } from '../server-metrics.js';
import type { GraftServer } from '../start-server.js';
import { registerDashboardRoutes, type DashboardHandle, type DashboardOptions } from './dashboard-routes.js';

/** Options for {@link startDashboardServer}. */
export interface DashboardServerOptions extends DashboardOptions {
  /** TCP port; 0 picks a free one. Defaults to 8080. */
  readonly port?: number;
  /** Interface to listen on. Defaults to 127.0.0.1 (loopback only). */
  readonly host?: string;
  /** Largest uploaded image in bytes. Defaults to 20 MB. */
  readonly maxUploadBytes?: number;
  /**
   * The token every request but /healthz needs (`Authorization: Bearer <token>`, or the cookie the page gets from
   * `/dashboard/?token=<token>`). Generated (256 random bits) when not given; see SECURITY.md.
   */
  readonly token?: string;
  /** Host names the server answers to besides localhost and IP addresses (DNS-rebinding defence). */
  readonly allowedHosts?: readonly string[];
  /**
   * Called once per answered request, /healthz included, as `startServer`'s is (`graft ui --log`); an event stream
   * once it ends. Never given a header, the query string or a body.
   */
  readonly accessLog?: (entry: AccessLogEntry) => void;
  /** The path a reverse proxy publishes the server under and passes on (`/graft`), as `startServer`'s. */
  readonly basePath?: string;
}

/**
 * The training dashboard on its own (`graft ui`): no trained models needed. The page is at `<url>/dashboard/`;
 * open it once as `<url>/dashboard/?token=<server.token>`.
 *
 * @example
 * const server = await startDashboardServer({ dataDir: './graft-ui', dataRoots: ['./datasets'], port: 0 });
 * console.log(`${server.url}/dashboard/?token=${server.token}`);
 * await server.close();
 */
export async function startDashboardServer(options: DashboardServerOptions): Promise<GraftServer & { readonly dashboard: DashboardHandle; readonly token: string }> {
  const token = options.token !== undefined ? checkToken(options.token, 'the token option') : generateToken();
  const basePath = checkBasePath(options.basePath, 'the basePath option');
  const metrics = new ServerMetrics();
  const maxUploadBytes = options.maxUploadBytes ?? 20 * 1024 * 1024;
  const app = await createApp({
    bodyLimit: 1024 * 1024,
    multipartLimits: { fileSize: maxUploadBytes, files: 256, fields: 8, parts: 264 },
    metrics,
    access: { token: new AccessToken(token), allowedHosts: options.allowedHosts ?? [] },
    storageDir: resolve(options.dataDir),
    ...(options.accessLog ? { accessLog: options.accessLog } : {}),
    ...(basePath === undefined ? {} : { basePath }),
  });
  try {
    // A run's model is tried with the prediction API's forms, a raw image body among them.
    acceptRawImages(app, maxUploadBytes);
    app.get('/', async (_request, reply) => reply.redirect(relativeLocation('/', '/dashboard/')));
    app.get('/healthz', async () => ({ status: 'ok' }));
    app.get('/metrics', async (_request, reply) => reply.type('text/plain; version=0.0.4; charset=utf-8').send(metrics.render(0)));
    const dashboard = registerDashboardRoutes(app, { predictLimits: { maxUploadBytes, maxPixels: 40_000_000 }, ...options });
    const url = await listenOn(app, options.port ?? 8080, options.host ?? '127.0.0.1');
    let closing: Promise<void> | undefined;
    return { url: `${url.replace(/\/$/, '')}${basePath ?? ''}`, models: [], app, dashboard, token, close: () => (closing ??= app.close()) };
  } catch (error) {
    await app.close().catch(() => undefined);
    throw error;
  }
}
