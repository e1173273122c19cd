import type Database from 'better-sqlite3';

/** How long a writer waits for another process's transaction before failing: long enough for any one batch. */
export const FEATURE_STORE_BUSY_TIMEOUT_MS = 10_000;

/**
 * Sets the pragmas every connection to the store uses. WAL lets readers run while one process writes;
 * `busy_timeout` makes a second writer wait its turn instead of failing with SQLITE_BUSY; `synchronous=NORMAL`
 * is durable against a killed process in WAL mode (only a power loss can drop the last commits, which for a
 * cache only costs recomputation).
 */
export function applyFeatureStorePragmas(db: Database.Database): void {
  db.pragma(`busy_timeout = ${FEATURE_STORE_BUSY_TIMEOUT_MS}`);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
}
