/** Codes of a full disk or quota: Node's errno codes, and SQLite's (better-sqlite3 puts it in `code`). */
const DISK_FULL_CODES: ReadonlySet<string> = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL']);

/** The error, or one of its causes (five deep), whose string `code` (errno's, SQLite's) `matches`; undefined when none does. */
export function causeWithCode(error: unknown, matches: (code: string) => boolean): Error | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && matches(code)) return e;
  }
  return undefined;
}

/** The error, or one of its causes, that says the disk is full; undefined when none does. */
export function diskFullCause(error: unknown): Error | undefined {
  return causeWithCode(error, (code) => DISK_FULL_CODES.has(code));
}

/** `run()`, or `instead()` when it fails for want of disk space; any other failure is thrown. */
export function unlessDiskFull<T>(run: () => T, instead: () => T): T {
  try {
    return run();
  } catch (error) {
    if (!diskFullCause(error)) throw error;
    return instead();
  }
}
