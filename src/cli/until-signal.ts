import { GraftError } from '../core/errors.js';
import { removeUnfinishedWrites } from '../core/unfinished-writes.js';
import { reportFailure, signalExitCode } from './output.js';
import type { ServerLog } from './server-log.js';

/**
 * Resolves after SIGINT or SIGTERM once `server` has closed (in-flight work finishes first). The handlers are
 * removed on the first signal, so a second Ctrl+C exits at once. The shutdown, and a failure to close, are told
 * through the server's log (one JSON object each with --log json).
 */
export function untilSignal(server: { close(options?: { readinessDelayMs?: number }): Promise<void> }, log: Pick<ServerLog, 'notice' | 'failure'>, options: { readinessDelayMs?: number } = {}): Promise<void> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      log.notice({ event: 'shutdown', level: 'info', message: `${signal}: shutting down (readiness off${options.readinessDelayMs ? `, serving ${options.readinessDelayMs} ms more` : ''}, then finishing requests in flight)` });
      void server.close(options).then(resolve, (error: unknown) => {
        log.failure(error);
        resolve();
      });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/**
 * An AbortSignal raised by the first SIGINT or SIGTERM, so that a long command (`graft train`) stops at its next
 * step, leaves what it had written as it was, and reports CANCELLED like any failure (one JSON error with --json,
 * exit 130 for SIGINT, 143 for SIGTERM: `received` says which). A second signal exits at once, removing what was
 * being written (see {@link stopWritingOnSignal}).
 */
export function cancelOnSignal(): { readonly signal: AbortSignal; readonly received: NodeJS.Signals | undefined; dispose(): void } {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const stop = (name: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      removeUnfinishedWrites(() => process.exit(signalExitCode(name)));
      return;
    }
    received = name;
    process.stderr.write(`\n${name}: stopping at the next step (press Ctrl+C again to quit at once)\n`);
    controller.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return {
    signal: controller.signal,
    get received() {
      return received;
    },
    dispose: () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    },
  };
}

/**
 * For a command that writes its output through working folders and has no step to stop at (`graft export`, `graft
 * convert`): the first SIGINT or SIGTERM removes what this process was writing and exits at once, with one line
 * (CANCELLED, exit 130 or 143). A swap into place already started is let finish first (milliseconds), so the output
 * is the earlier one or the new one, never half replaced. Without this, Node exits on the signal and the working
 * folder stays beside the output until the next write to it. A second signal exits without waiting.
 * @returns removes the handlers (when the command is done).
 */
export function stopWritingOnSignal(command: string, isJson: boolean): () => void {
  const stop = (name: NodeJS.Signals): void => {
    dispose();
    removeUnfinishedWrites(() => {
      const stopped = new GraftError('CANCELLED', `${command} was stopped (${name}): nothing half-written is left beside its output`, { hint: 'run the same command again' });
      reportFailure(stopped, isJson, name);
      process.exit(signalExitCode(name));
    });
  };
  const dispose = (): void => {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return dispose;
}
