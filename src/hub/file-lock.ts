import { open, readFile, rm, stat, utimes, type FileHandle } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { GraftError } from '../core/errors.js';
import { isAbandonedLock, lockRecord, removeAbandonedLock, setLockHeld } from '../core/lock-owner.js';

const LOCK_POLL_MS = 100;

/** A lock file this process holds. */
export interface FileLock {
  release(): Promise<void>;
  /** Marks the lock as alive (its mtime is what staleness is judged by). */
  touch(): void;
}

/** How to wait for a lock another process holds. */
export interface FileLockOptions {
  /** A lock not refreshed for this long is taken to belong to a dead process (another host's) and is removed. */
  readonly staleMs: number;
  /** Stops the wait: `onCancel`'s error is thrown. */
  readonly signal?: AbortSignal;
  readonly onCancel: () => Error;
  /** Called once when the wait begins, with the holder's pid (empty while it has not written it yet). */
  readonly onWait: (holderPid: string) => void;
}

/**
 * Creates `path` exclusively, waiting while another live process holds it. A lock is taken over when its process
 * (on this host) is gone, e.g. after a kill, or when it has not been refreshed for `staleMs` (another host's).
 */
export async function acquireFileLock(path: string, options: FileLockOptions): Promise<FileLock> {
  let waited = false;
  for (;;) {
    if (options.signal?.aborted) throw options.onCancel();
    try {
      const handle = await open(path, 'wx');
      setLockHeld(path, true); // before its pid is in the file: an in-process caller must never take it for a dead one's
      await writeLockRecord(handle, path);
      return {
        release: () => {
          setLockHeld(path, false);
          return rm(path, { force: true });
        },
        touch: () => {
          const now = new Date();
          utimes(path, now, now).catch(() => undefined);
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const held = await stat(path).catch(() => undefined);
    const record = held ? await readFile(path, 'utf8').catch(() => '') : '';
    const isAbandoned = (lock: string, mtimeMs: number): boolean => Date.now() - mtimeMs > options.staleMs || isAbandonedLock(path, lock);
    if (held && isAbandoned(record, held.mtimeMs)) {
      if (removeAbandonedLock(path, isAbandoned)) continue;
    } else if (!waited) {
      options.onWait(record.split('\n')[0] ?? '');
      waited = true;
    }
    await sleep(LOCK_POLL_MS);
  }
}

/**
 * Writes this process's record into the lock it just created, and closes it. A lock left without its record (a full
 * disk) would make every later download of the file wait `staleMs` for an owner that never was: it is removed.
 * @throws GraftError CACHE_ERROR naming the lock when it cannot be written.
 */
async function writeLockRecord(handle: FileHandle, path: string): Promise<void> {
  try {
    try {
      await handle.writeFile(lockRecord());
    } finally {
      await handle.close();
    }
  } catch (cause) {
    setLockHeld(path, false);
    await rm(path, { force: true });
    throw new GraftError('CACHE_ERROR', `Cannot write the download lock ${path} (${(cause as Error).message})`, {
      hint: 'free space on the disk that holds the cache folder, or point GRAFT_CACHE_DIR (--cache-dir) at another one',
      cause,
    });
  }
}
