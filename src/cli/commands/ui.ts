import { join } from 'node:path';
import type { Command } from 'commander';
import { startDashboardServer } from '../../serve/dashboard/start-dashboard-server.js';
import { parsePort } from '../options.js';
import { printResult } from '../output.js';
import { addAccessOptions, basePathFrom, dashboardLink, exposureWarnings, tokenFrom, type AccessFlags } from '../server-flags.js';
import { addLogOptions, dashboardNotice, serverLog, type LogFlags } from '../server-log.js';
import { backboneSearch, cacheDirFrom } from '../environment.js';
import { untilSignal } from '../until-signal.js';
import { routeEngineOutput } from '../route-engine-output.js';

interface UiFlags extends AccessFlags, LogFlags {
  port: number;
  dataDir: string;
  offline: boolean;
  json: boolean;
}

/** `graft ui`: the training dashboard (projects, runs, live curves, evaluation) until SIGINT/SIGTERM. */
export function registerUi(program: Command): void {
  const command = program
    .command('ui')
    .description('the training dashboard: create a project from a folder or uploads, train, watch the curves, inspect mistakes')
    .option('--port <port>', 'TCP port (0: any free port)', parsePort, 8080)
    .option('--host <host>', 'interface to listen on (0.0.0.0 exposes it to the network)', '127.0.0.1')
    .option('--data-dir <dir>', 'where projects, runs and trained models are kept (SQLite + files)', join(process.cwd(), 'graft-ui'))
    .option('--offline', 'never download a backbone: a run whose default backbone is not cached trains with the bundled one, and says so', false)
    .option('--json', 'print one JSON object (url, dashboard) on stdout', false);
  addLogOptions(command, ['/healthz']);
  addAccessOptions(command, { dashboard: 'always' })
    .action(async (flags: UiFlags) => {
      const log = serverLog(flags);
      if (flags.log === 'json') routeEngineOutput((notice) => log.notice(notice));
      try {
        const token = tokenFrom(flags);
        const server = await startDashboardServer({
          dataDir: flags.dataDir,
          dataRoots: flags.dataRoot,
          port: flags.port,
          host: flags.host,
          offline: flags.offline,
          cacheDir: cacheDirFrom(undefined),
          ...backboneSearch(),
          allowedHosts: flags.allowedHost,
          ...basePathFrom(flags),
          ...(token === undefined ? {} : { token }),
          ...(log.accessLog ? { accessLog: log.accessLog } : {}),
          onEvent: (event) => log.notice(dashboardNotice(event)),
        });
        const dashboard = dashboardLink(server.url, server.token);
        for (const message of exposureWarnings(flags.host, { hasDashboard: true, isApiOpen: false })) log.notice({ event: 'warning', level: 'warning', message });
        printResult(flags.json, { url: server.url, dashboard, dataDir: flags.dataDir, dataRoots: flags.dataRoot }, () =>
          [
            `Training dashboard on ${dashboard}`,
            '  (the link holds the access token: opening it logs the browser in; keep it private)',
            `  data: ${flags.dataDir}`,
            `  projects from folders under: ${flags.dataRoot.length ? flags.dataRoot.join(', ') : 'none (uploads only; add --data-root <dir>)'}`,
            'Ctrl+C or SIGTERM stops the run in progress (it is then shown as interrupted, and no model is kept) and exits.',
          ].join('\n'),
        );
        await untilSignal(server, log);
      } catch (error) {
        log.startFailure(error, flags.json);
      }
    });
}
