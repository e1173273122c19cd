import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { GraftError } from '../../core/errors.js';
import { isAbandonedLock, lockRecord, removeAbandonedLock, setLockHeld } from '../../core/lock-owner.js';

/** Tries before giving up: each one that fails races another graft ui creating, taking over or releasing the lock. */
const MAX_ATTEMPTS = 50;
const RETRY_MS = 20;

/**
 * Claims a dashboard data folder for this process: `graft.lock` holds its pid and host. A second `graft ui` on the
 * same folder would mark the first one's running run as interrupted and delete its uploads in progress. A lock
 * whose process is gone (a kill, a restarted container) is taken over, by one graft ui at a time.
 * @returns the release function (removes the lock if it is still this process's).
 * @throws GraftError INVALID_CONFIG when another running process holds the folder.
 */
export function lockDataDir(dataDir: string): () => void {
  const path = join(dataDir, 'graft.lock');
  const mine = lockRecord();
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    try {
      writeLockRecord(openSync(path, 'wx'), path, mine, dataDir);
      setLockHeld(path, true);
      return () => {
        setLockHeld(path, false);
        if (readLock(path) === mine) rmSync(path, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const record = readLock(path);
    // Gone since (its holder exited), or created and not yet written: look again.
    if (record === undefined || record === '') {
      if (record === '') sleepSync(RETRY_MS);
      continue;
    }
    if (!isAbandonedLock(path, record)) {
      const [pid, host] = record.split('\n');
      throw new GraftError('INVALID_CONFIG', `The dashboard folder ${dataDir} is in use by another graft ui (process ${pid}${host === hostname() ? '' : ` on ${host}`})`, {
        hint: `stop that one, or pass another --data-dir; if no other is running, delete ${path}`,
      });
    }
    // Another graft ui may be taking it over: see who won.
    if (!removeAbandonedLock(path, (lock) => isAbandonedLock(path, lock))) sleepSync(RETRY_MS);
  }
  throw new GraftError('INVALID_CONFIG', `Cannot claim the dashboard folder ${dataDir}`, { hint: `delete ${path} and start again` });
}

/** The lock's record, or undefined when there is none (its holder removed it a moment ago). */
function readLock(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Blocks for `ms`: claiming the folder is synchronous, done once as graft ui starts. */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Writes `record` into the lock just created and closes it. A lock left without its record (a full disk) would
 * refuse every later `graft ui` on the folder as held by a process without a number: it is removed.
 * @throws GraftError INVALID_CONFIG naming the folder when the record cannot be written.
 */
function writeLockRecord(fd: number, path: string, record: string, dataDir: string): void {
  try {
    try {
      writeFileSync(fd, record);
    } finally {
      closeSync(fd);
    }
  } catch (cause) {
    rmSync(path, { force: true });
    throw new GraftError('INVALID_CONFIG', `Cannot claim the dashboard folder ${dataDir}: writing ${path} failed (${(cause as Error).message})`, {
      hint: 'free space on its disk, or pass another --data-dir',
      cause,
    });
  }
}
