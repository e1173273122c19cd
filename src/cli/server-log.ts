import { Option, type Command } from 'commander';
import { isProbePath } from '../serve/access/access-control.js';
import { ACCESS_LOG_FORMATS, formatAccessLine, type AccessLogEntry, type AccessLogFormat } from '../serve/access-log.js';
import type { DashboardEvent } from '../serve/dashboard/run-queue.js';
import { describeFailure, isVerboseOn, printFailureJson, reportFailure } from './output.js';
import { exitCodeFor } from '../core/errors.js';

/** `--log` and `--log-probes`, which `graft serve` and `graft ui` share. */
export interface LogFlags {
  log: AccessLogFormat;
  logProbes: boolean;
}

/** Adds --log and --log-probes; `probes` names the paths left out unless --log-probes (/healthz, and /readyz for serve). */
export function addLogOptions(command: Command, probes: readonly string[]): Command {
  const paths = probes.join(' and ');
  return command
    .addOption(
      new Option('--log <format>', `access log on stderr, a line per request (time, method, path, status, ms, request id, model, images): text, json (an object per line, and so are the server's other notes: a failure to start, reloads, warnings, shutdown, what tfjs and Node print) or off. ${paths} ${probes.length > 1 ? 'are' : 'is'} not logged`)
        .choices([...ACCESS_LOG_FORMATS])
        .default('text'),
    )
    .option('--log-probes', `also log ${paths} (Kubernetes probes ${probes.length > 1 ? 'them' : 'it'} every few seconds)`, false);
}

/**
 * What a running server tells its operator on stderr besides the access log. `message` is the line `--log text`
 * prints (a warning's after "warning: "); `--log json` prints the whole notice as one object.
 */
export interface ServerNotice {
  /**
   * What happened: a model reloaded or failed to, a warning, the shutdown, a dashboard run it could not record, a
   * failure (to start, too), a line an engine or Node printed (`console`, see route-engine-output.ts), an exception
   * nothing caught, which ends the process (`crash`, with --log json only: text leaves Node's own report).
   */
  readonly event: 'reload' | 'reload-failed' | 'warning' | 'shutdown' | 'run-not-recorded' | 'error' | 'console' | 'crash';
  readonly level: 'info' | 'warning' | 'error';
  readonly message: string;
  readonly model?: string;
  readonly labels?: number;
  readonly run?: number;
  readonly code?: string;
  readonly hint?: string;
  readonly stack?: string;
  /**
   * Of a `console` notice: what printed it (`console.warn`, `process.warning`) and, when known, the npm package that
   * called; of a `crash`: `uncaughtException` or `unhandledRejection`.
   */
  readonly source?: string;
  readonly package?: string;
}

/** Where a server's lines go: the access log (none with --log off) and its notices, in the format --log chose. */
export interface ServerLog {
  readonly accessLog: ((entry: AccessLogEntry) => void) | undefined;
  notice(notice: ServerNotice): void;
  /** A failure after start-up (closing failed): one object with --log json, else as every command reports one. */
  failure(error: unknown): void;
  /**
   * A failure to start (a port in use, no model, a weak token, a locked data folder): with --log json one object on
   * stderr, and with --json also the error object on stdout that --json promises; else as every command reports one.
   */
  startFailure(error: unknown, isJson: boolean): void;
}

/**
 * Every line on stderr, access lines and notices alike, is one JSON object with --log json, so that a log shipper
 * never meets a line it cannot parse: a failure to start too ({@link ServerLog.startFailure}), and what the engines
 * print once `routeEngineOutput` (route-engine-output.ts) sends it here. Text and off print notices as they always
 * were. Stdout keeps the start-up result (with --json, or the failure's object) alone, so `--json` still prints exactly
 * one JSON object there.
 */
export function serverLog(flags: LogFlags): ServerLog {
  const isJson = flags.log === 'json';
  const withStack = isVerboseOn();
  const write = (line: string): boolean => process.stderr.write(`${line}\n`);
  const notice = (n: ServerNotice): void => {
    if (isJson) write(JSON.stringify({ time: new Date().toISOString(), ...n }));
    else write(`${n.level === 'warning' ? 'warning: ' : ''}${n.message}`);
  };
  // isJsonResult: --json, whose stdout object a failure to start is; one after start-up leaves stdout alone.
  const failure = (error: unknown, isJsonResult: boolean): void => {
    if (!isJson) return reportFailure(error, isJsonResult);
    const described = describeFailure(error);
    if (isJsonResult) printFailureJson(described);
    const { code, message, hint, stack } = described;
    notice({ event: 'error', level: 'error', message, code, ...(hint ? { hint } : {}), ...(stack ? { stack } : {}) });
    process.exitCode = exitCodeFor(error);
  };
  const format = flags.log;
  return {
    accessLog:
      format === 'off'
        ? undefined
        : (entry) => {
            if (!flags.logProbes && isProbePath(entry.path)) return;
            write(formatAccessLine(entry, format, { withStack }));
          },
    notice,
    failure: (error) => failure(error, false),
    startFailure: failure,
  };
}

/** The dashboard's notice of a run it could not record (text: the line `graft ui` always printed). */
export function dashboardNotice(event: DashboardEvent): ServerNotice {
  return { event: event.type, level: 'error', run: event.run, message: `graft ui: run ${event.run}: ${event.message}` };
}
