import { constants } from 'node:os';
import { diskFullCause } from '../core/disk-full.js';
import { exitCodeFor, GraftError } from '../core/errors.js';

/** Prints a result: pretty text for people, exactly one JSON object (or array) on stdout with --json. */
export function printResult(isJson: boolean, value: unknown, text: () => string): void {
  process.stdout.write(isJson ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`);
}

/** `--json` and `--csv` both ask for stdout: refused (INVALID_CONFIG, exit 2) before any work. */
export function refuseJsonWithCsv(flags: { readonly json: boolean; readonly csv: boolean }): void {
  if (flags.json && flags.csv) throw new GraftError('INVALID_CONFIG', '--json and --csv both ask for stdout.', { hint: 'pass one of them' });
}

/**
 * A file name as text output prints it: control characters (a newline, an escape sequence; legal in Linux names)
 * written as escapes, so one name cannot fake a line or recolour the terminal. JSON output escapes them already.
 */
export function printable(name: string): string {
  return name.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => (c === '\n' ? '\\n' : c === '\r' ? '\\r' : c === '\t' ? '\\t' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}

/** Set by `--verbose` (see main.ts): internal errors then print their whole message and stack. */
let isVerbose = Boolean(process.env.GRAFT_DEBUG);

export function setVerbose(value: boolean): void {
  isVerbose = value || Boolean(process.env.GRAFT_DEBUG);
}

/** Whether `--verbose` (or $GRAFT_DEBUG) asked for details such as stacks. */
export function isVerboseOn(): boolean {
  return isVerbose;
}

/**
 * Reports a failure and sets the exit code from the error's code. With --json the error is the one JSON object
 * on stdout, so scripts always get parseable output. An error that is not a GraftError is a bug or an
 * unexpected failure below Graft: exit code 4 and one line (its first), the rest with --verbose.
 * @param stoppedBy the signal that cancelled the run, if one did: a CANCELLED run then exits as the shell reports a
 *   process that signal ended (130 for SIGINT, 143 for SIGTERM).
 */
export function reportFailure(error: unknown, isJson: boolean, stoppedBy?: NodeJS.Signals): void {
  const described = describeFailure(error);
  const { message, hint, stack } = described;
  if (isJson) printFailureJson(described);
  process.stderr.write(`error: ${message}\n${hint ? `  hint: ${hint}\n` : ''}`);
  if (stack) process.stderr.write(`${stack}\n`);
  process.exitCode = error instanceof GraftError && error.code === 'CANCELLED' && stoppedBy ? signalExitCode(stoppedBy) : exitCodeFor(error);
}

/** A failure as --json prints it: the one JSON object on stdout, `{ error: { code, message, hint } }` (never its stack). */
export function printFailureJson({ code, message, hint }: { code: string; message: string; hint?: string }): void {
  process.stdout.write(`${JSON.stringify({ error: { code, message, ...(hint ? { hint } : {}) } }, null, 2)}\n`);
}

/** What to do about a full disk; what was being written is not left half done (outputs are written aside, then renamed). */
const DISK_FULL_HINT = 'free space on that disk, or write elsewhere (another --out, --store or --work-dir; GRAFT_CACHE_DIR for the cache), then run the command again: nothing already written was changed';

/**
 * A failure as the CLI reports it: a full disk as DISK_FULL; a GraftError's code, message and hint; anything else is INTERNAL, with its first
 * line only, unless --verbose, which gives the whole message and the stack.
 */
export function describeFailure(error: unknown): { code: string; message: string; hint?: string; stack?: string } {
  const full = error instanceof Error ? error.message : String(error);
  // A full disk is the machine's state, not a bug: said as such, with what to do, whatever layer met it.
  if (diskFullCause(error)) return { code: 'DISK_FULL', message: `The disk is full: ${firstLine(full)}`, hint: DISK_FULL_HINT };
  const isGraft = error instanceof GraftError;
  const message = isGraft || isVerbose ? full : `${firstLine(full)} (internal error; run with --verbose for details)`;
  const stack = !isGraft && error instanceof Error && error.stack && isVerbose ? error.stack : undefined;
  return { code: isGraft ? error.code : 'INTERNAL', message, ...(isGraft && error.hint ? { hint: error.hint } : {}), ...(stack ? { stack } : {}) };
}

/** The exit status of a process ended by `signal`, as a shell reports it: 128 + its number (SIGINT 130, SIGTERM 143). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + constants.signals[signal];
}

function firstLine(text: string): string {
  const line = text.split('\n').find((l) => l.trim() !== '') ?? 'unknown error';
  return line.length > 300 ? `${line.slice(0, 300)}...` : line.trim();
}

/**
 * `value` as one shell word, for the commands Graft suggests running next: quoted where it holds a space or another
 * character a shell would act on (`/tmp/my model` -> `'/tmp/my model'`), so the line can be copied as it is.
 */
export function shellWord(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
