import multipart from '@fastify/multipart';
import Fastify from 'fastify';
import { httpErrorFor } from '../error-mapping.js';
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
}

/**
 * The training dashboard on its own (`graft ui`): no trained models needed. The page is at `<url>/dashboard/`.
 *
 * @example
 * const server = await startDashboardServer({ dataDir: './graft-ui', port: 0 });
 * console.log(`${server.url}/dashboard/`);
 * await server.close();
 */
export async function startDashboardServer(options: DashboardServerOptions): Promise<GraftServer & { readonly dashboard: DashboardHandle }> {
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  try {
    await app.register(multipart, { limits: { fileSize: options.maxUploadBytes ?? 20 * 1024 * 1024, files: 256, fields: 8 } });
    app.setErrorHandler(async (error, _request, reply) => {
      const { status, body } = httpErrorFor(error);
      return reply.code(status).type('application/json; charset=utf-8').send(body);
    });
    app.get('/', async (_request, reply) => reply.redirect('/dashboard/'));
    app.get('/healthz', async () => ({ status: 'ok' }));
    const dashboard = registerDashboardRoutes(app, options);
    const url = await app.listen({ port: options.port ?? 8080, host: options.host ?? '127.0.0.1' });
    let closing: Promise<void> | undefined;
    return { url: url.replace(/\/$/, ''), models: [], app, dashboard, close: () => (closing ??= app.close()) };
  } catch (error) {
    await app.close().catch(() => undefined);
    throw error;
  }
}
