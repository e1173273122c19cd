import type { Command } from 'commander';
import { webAppRoot } from '../../web/web-app-root.js';
import { GraftError } from '../../core/errors.js';
import { OPENAPI_PATH } from '../../serve/openapi-document.js';
import { startServer } from '../../serve/start-server.js';
import { parseNonNegativeInteger, parseNonNegativeNumber, parsePort, parsePositiveInteger, parsePositiveNumber } from '../options.js';
import { printResult } from '../output.js';
import { addAccessOptions, basePathFrom, dashboardLink, exposureWarnings, tokenFrom, type AccessFlags } from '../server-flags.js';
import { addLogOptions, dashboardNotice, serverLog, type LogFlags } from '../server-log.js';
import { backboneSearch, cacheDirFrom } from '../environment.js';
import { untilSignal } from '../until-signal.js';
import { routeEngineOutput } from '../route-engine-output.js';

interface ServeFlags extends AccessFlags, LogFlags {
  port: number;
  name: string[];
  cors: string[];
  maxUploadMb: number;
  maxPixels: number;
  timeoutMs: number;
  maxBatch: number;
  batchWindowMs: number;
  web?: string;
  train?: string | boolean;
  watch: boolean;
  shutdownDelayMs: number;
  json: boolean;
}

/** `graft serve <model-dir...>`: the HTTP API (and the web page with --web) until SIGINT/SIGTERM. */
export function registerServe(program: Command): void {
  const command = program
    .command('serve')
    .description('serve trained models over HTTP: POST /v1/models/<name>/predict, GET /v1/models, /healthz, /readyz, /metrics, /openapi.json')
    .argument('<model-dir...>', 'directories written by graft train (served under their basename, or --name)')
    .option('--port <port>', 'TCP port (0: any free port)', parsePort, 8080)
    .option('--host <host>', 'interface to listen on (0.0.0.0 exposes it to the network)', '127.0.0.1')
    .option('--name <name>', 'a model name, once per model directory, in order', (value: string, previous: string[]) => [...previous, value], [] as string[])
    .option('--max-upload-mb <mb>', 'largest request body in MB', parsePositiveNumber, 10)
    .option('--max-pixels <pixels>', 'largest width x height of an image, checked before decoding', parsePositiveInteger, 40_000_000)
    .option('--timeout-ms <ms>', 'answer 503 when a prediction takes longer', parsePositiveInteger, 30_000)
    .option('--max-batch <n>', 'most images per onnxruntime run (dynamic batching)', parsePositiveInteger, 32)
    .option('--batch-window-ms <ms>', 'how long an idle model waits for more images', parseNonNegativeNumber, 3)
    .option('--web <dir>', 'serve this folder at / instead of the built-in upload page')
    .option('--train [data-dir]', 'also serve the training dashboard at /dashboard/, which needs a token (projects and runs kept in data-dir, default ./graft-ui)')
    .option('--cors <origin>', 'let pages of this origin call the prediction API, e.g. https://app.example.com (repeat for several)', (value: string, previous: string[]) => [...previous, value], [] as string[])
    .option('--no-watch', 'do not reload a model when its files change')
    .option('--shutdown-delay-ms <ms>', 'on SIGTERM, answer /readyz 503 and keep serving this long before draining (let the load balancer notice)', parseNonNegativeInteger, 0)
    .option('--json', 'print one JSON object (url and models) on stdout', false);
  addLogOptions(command, ['/healthz', '/readyz']);
  addAccessOptions(command, { dashboard: 'with --train' })
    .action(async (modelDirs: string[], flags: ServeFlags) => {
      const log = serverLog(flags);
      if (flags.log === 'json') routeEngineOutput((notice) => log.notice(notice));
      try {
        if (flags.name.length > modelDirs.length) {
          throw new GraftError('INVALID_CONFIG', `${flags.name.length} --name values for ${modelDirs.length} model directories.`, {
            hint: 'give at most one --name per directory, in the same order',
          });
        }
        const names = Object.fromEntries(flags.name.map((name, i) => [modelDirs[i]!, name]));
        const token = tokenFrom(flags);
        const server = await startServer({
          models: modelDirs,
          names,
          port: flags.port,
          host: flags.host,
          ...(token === undefined ? {} : { token }),
          allowedHosts: flags.allowedHost,
          corsOrigins: flags.cors,
          ...basePathFrom(flags),
          maxUploadBytes: Math.round(flags.maxUploadMb * 1024 * 1024),
          maxPixels: flags.maxPixels,
          requestTimeoutMs: flags.timeoutMs,
          maxBatch: flags.maxBatch,
          batchWindowMs: flags.batchWindowMs,
          // The upload page built by `npm run build` is served at / unless another folder is given.
          webRoot: flags.web ?? webAppRoot(),
          ...(flags.train ? { dashboard: { dataDir: typeof flags.train === 'string' ? flags.train : 'graft-ui', dataRoots: flags.dataRoot, cacheDir: cacheDirFrom(undefined), ...backboneSearch(), onEvent: (event) => log.notice(dashboardNotice(event)) } } : {}),
          watch: flags.watch,
          ...(log.accessLog ? { accessLog: log.accessLog } : {}),
          onEvent: (event) =>
            log.notice(
              event.type === 'reload'
                ? { event: 'reload', level: 'info', model: event.model, labels: event.labels.length, message: `reloaded ${event.model}: ${event.labels.length} labels` }
                : { event: 'reload-failed', level: 'error', model: event.model, message: `reload of ${event.model} failed (still serving the previous version): ${event.message}` },
            ),
        });
        const models = server.models.map((name) => ({ name, predict: `${server.url}/v1/models/${name}/predict` }));
        const openapi = `${server.url}${OPENAPI_PATH}`;
        const dashboard = flags.train && server.token ? dashboardLink(server.url, server.token) : undefined;
        for (const message of exposureWarnings(flags.host, { hasDashboard: Boolean(flags.train), isApiOpen: token === undefined })) log.notice({ event: 'warning', level: 'warning', message });
        printResult(flags.json, { url: server.url, models, openapi, ...(dashboard ? { dashboard } : {}), tokenRequired: token !== undefined }, () =>
          [
            `Serving on ${server.url}${token === undefined ? '' : ' (the API needs the token: Authorization: Bearer <token>)'}`,
            ...models.map((m) => `  ${m.name}: POST ${m.predict}`),
            `  API description (OpenAPI 3.1, e.g. for openapi-generator): ${openapi}`,
            ...(dashboard ? [`Training dashboard: ${dashboard}`] : []),
            'Ctrl+C to stop.',
          ].join('\n'),
        );
        await untilSignal(server, log, { readinessDelayMs: flags.shutdownDelayMs });
      } catch (error) {
        log.startFailure(error, flags.json);
      }
    });
}

