import { exitCodeFor, GraftError } from '../errors.js';

/** Prints a result: pretty text for people, exactly one JSON object (or array) on stdout with --json. */
export function printResult(isJson: boolean, value: unknown, text: () => string): void {
  process.stdout.write(isJson ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`);
}

/**
 * Reports a failure and sets the exit code from the error's code. With --json the error is the one JSON object
 * on stdout, so scripts always get parseable output.
 */
export function reportFailure(error: unknown, isJson: boolean): void {
  const code = error instanceof GraftError ? error.code : 'INTERNAL';
  const message = error instanceof Error ? error.message : String(error);
  const hint = error instanceof GraftError ? error.hint : undefined;
  if (isJson) process.stdout.write(`${JSON.stringify({ error: { code, message, ...(hint ? { hint } : {}) } }, null, 2)}\n`);
  process.stderr.write(`error: ${message}\n${hint ? `  hint: ${hint}\n` : ''}`);
  if (!(error instanceof GraftError) && error instanceof Error && error.stack && process.env.GRAFT_DEBUG) process.stderr.write(`${error.stack}\n`);
  process.exitCode = exitCodeFor(error);
}
