import { reportFailure } from './output.js';

/**
 * Resolves after SIGINT or SIGTERM once `server` has closed (in-flight work finishes first). The handlers are
 * removed on the first signal, so a second Ctrl+C exits at once.
 */
export function untilSignal(server: { close(options?: { readinessDelayMs?: number }): Promise<void> }, options: { readinessDelayMs?: number } = {}): Promise<void> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      process.stderr.write(`${signal}: shutting down (readiness off${options.readinessDelayMs ? `, serving ${options.readinessDelayMs} ms more` : ''}, then finishing requests in flight)\n`);
      void server.close(options).then(resolve, (error: unknown) => {
        reportFailure(error, false);
        resolve();
      });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
