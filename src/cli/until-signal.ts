import { signalExitCode } from './output.js';
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
 * exit 130 for SIGINT, 143 for SIGTERM: `received` says which). A second signal exits at once.
 */
export function cancelOnSignal(): { readonly signal: AbortSignal; readonly received: NodeJS.Signals | undefined; dispose(): void } {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const stop = (name: NodeJS.Signals): void => {
    if (controller.signal.aborted) process.exit(signalExitCode(name));
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
