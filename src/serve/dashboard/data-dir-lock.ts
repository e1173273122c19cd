import { openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { GraftError } from '../../core/errors.js';
import { isProcessRunning } from '../../core/process-alive.js';

/**
 * Claims a dashboard data folder for this process: `graft.lock` holds its pid and host. A second `graft ui` on the
 * same folder would mark the first one's running run as interrupted and delete its uploads in progress. A lock
 * whose process is gone (a kill) is taken over.
 * @returns the release function (removes the lock if it is still this process's).
 * @throws GraftError INVALID_CONFIG when another running process holds the folder.
 */
/** The data-folder locks this process holds. */
const HELD = new Set<string>();

export function lockDataDir(dataDir: string): () => void {
  const path = join(dataDir, 'graft.lock');
  // A restarted container runs as the same pid (often 1) on the same host name: a lock naming this process's pid is
  // this process's only if it is among the ones it holds.
  const heldHere = HELD.has(path);
  const mine = `${process.pid}\n${hostname()}\n`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, mine);
      closeSync(fd);
      HELD.add(path);
      return () => {
        HELD.delete(path);
        let holder = '';
        try {
          holder = readFileSync(path, 'utf8');
        } catch {
          return; // already gone
        }
        if (holder === mine) rmSync(path, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const [pidLine, host] = readFileSync(path, 'utf8').split('\n');
    const pid = Number(pidLine);
    const isLive = pid === process.pid ? heldHere : isProcessRunning(pid);
    if (host !== hostname() || isLive) {
      throw new GraftError('INVALID_CONFIG', `The dashboard folder ${dataDir} is in use by another graft ui (process ${pidLine}${host === hostname() ? '' : ` on ${host}`})`, {
        hint: `stop that one, or pass another --data-dir; if no other is running, delete ${path}`,
      });
    }
    rmSync(path, { force: true }); // its process is gone
  }
  throw new GraftError('INVALID_CONFIG', `Cannot claim the dashboard folder ${dataDir}`, { hint: `delete ${path} and start again` });
}
