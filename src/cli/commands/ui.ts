import { join } from 'node:path';
import type { Command } from 'commander';
import { startDashboardServer } from '../../serve/dashboard/start-dashboard-server.js';
import { parseInteger } from '../options.js';
import { printResult, reportFailure } from '../output.js';
import { untilSignal } from '../until-signal.js';

interface UiFlags {
  port: number;
  host: string;
  dataDir: string;
  offline: boolean;
  json: boolean;
}

/** `graft ui`: the training dashboard (projects, runs, live curves, evaluation) until SIGINT/SIGTERM. */
export function registerUi(program: Command): void {
  program
    .command('ui')
    .description('the training dashboard: create a project from a folder or uploads, train, watch the curves, inspect mistakes')
    .option('--port <port>', 'TCP port (0: any free port)', parseInteger, 8080)
    .option('--host <host>', 'interface to listen on (0.0.0.0 exposes it to the network)', '127.0.0.1')
    .option('--data-dir <dir>', 'where projects, runs and trained models are kept (SQLite + files)', join(process.cwd(), 'graft-ui'))
    .option('--no-offline', 'allow downloading a backbone a run asks for')
    .option('--json', 'print one JSON object (url, dashboard) on stdout', false)
    .action(async (flags: UiFlags) => {
      try {
        const server = await startDashboardServer({ dataDir: flags.dataDir, port: flags.port, host: flags.host, offline: flags.offline });
        const dashboard = `${server.url}/dashboard/`;
        printResult(flags.json, { url: server.url, dashboard, dataDir: flags.dataDir }, () =>
          [`Training dashboard on ${dashboard}`, `  data: ${flags.dataDir}`, 'Ctrl+C stops after the run in progress; press it twice to stop now (that run is then shown as interrupted).'].join('\n'),
        );
        await untilSignal(server);
      } catch (error) {
        reportFailure(error, flags.json);
      }
    });
}
