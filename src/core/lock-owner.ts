import { closeSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { isProcessRunning } from './process-alive.js';

/** The lock files this process holds (its own pid in a lock it does not hold is a previous process's). */
const HELD = new Set<string>();

/** What a lock file holds: the owner's pid and host name, one per line. */
export function lockRecord(): string {
  return `${process.pid}\n${hostname()}\n`;
}

/** Marks `path` as held by this process (call right after creating it), or released. */
export function setLockHeld(path: string, isHeld: boolean): void {
  if (isHeld) HELD.add(path);
  else HELD.delete(path);
}

/**
 * Whether the lock at `path`, holding `record`, was left by a process that is gone: one on this host that no longer
 * runs, or this very pid when this process does not hold the lock (a restarted container is pid 1 again, on the same
 * host name). A lock of another host, or whose record is not (yet) written, is not.
 */
export function isAbandonedLock(path: string, record: string): boolean {
  const [pidLine, host] = record.split('\n');
  const pid = Number(pidLine);
  if (!Number.isInteger(pid) || pid <= 0 || host !== hostname()) return false;
  return pid === process.pid ? !HELD.has(path) : !isProcessRunning(pid);
}

/** A takeover lives a few milliseconds; one this old was left by a process killed during it. */
const TAKEOVER_STALE_MS = 1_000;

/**
 * Removes the lock at `path`, found abandoned, one process at a time: without `<path>.takeover`, two waiters that
 * both found it abandoned could each remove it, the second removing the lock the first had just taken, and both would
 * hold it. The one that takes over checks again (`isAbandoned`, given the record and the lock's mtime) that the lock
 * is still an abandoned one. A takeover left by a process killed in those few milliseconds is removed after a second.
 * Synchronous: a few file operations, on a rare path.
 * @returns whether the lock is gone now (this process removed it, or it was gone): the caller tries to take it at once.
 */
export function removeAbandonedLock(path: string, isAbandoned: (record: string, mtimeMs: number) => boolean): boolean {
  const takeover = `${path}.takeover`;
  try {
    closeSync(openSync(takeover, 'wx'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const since = statSync(takeover, { throwIfNoEntry: false });
    if (since && Date.now() - since.mtimeMs > TAKEOVER_STALE_MS) rmSync(takeover, { force: true });
    return false;
  }
  try {
    const held = statSync(path, { throwIfNoEntry: false });
    if (!held) return true;
    let record = '';
    try {
      record = readFileSync(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true;
      throw error;
    }
    if (!isAbandoned(record, held.mtimeMs)) return false;
    rmSync(path, { force: true });
    return true;
  } finally {
    rmSync(takeover, { force: true });
  }
}
