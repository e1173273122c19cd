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
