import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';

/** The kinds of working name writers give beside their output (removeOrphanedSiblings knows the same list). */
export type WorkingKind = 'staging' | 'converting' | 'exporting' | 'source' | 'tmp';

/** Working files and folders of this process not yet put in place: what a Ctrl+C would leave behind. */
const UNFINISHED = new Set<string>();
/** Swaps (renames into place) in progress: a signal waits for them, never cuts one in two. */
let swapsInProgress = 0;
const afterSwaps: (() => void)[] = [];

/**
 * A new working name beside `dest`, `<dest>.<kind>-<pid>-<8 hex>`, counted as unfinished until {@link forgetWorkingPath}
 * or the start of its swap ({@link beginSwap}). The pid lets a later write remove it once its process is gone.
 */
export function workingPathFor(dest: string, kind: WorkingKind): string {
  const path = `${dest}.${kind}-${process.pid}-${randomBytes(4).toString('hex')}`;
  UNFINISHED.add(path);
  return path;
}

/** Counts `path` (a working file or folder named some other way, e.g. a scratch folder) as unfinished until {@link forgetWorkingPath}. */
export function markUnfinished(path: string): void {
  UNFINISHED.add(path);
}

/** The writer is done with `path` (put in place, or removed on a failure). */
export function forgetWorkingPath(path: string): void {
  UNFINISHED.delete(path);
}

/**
 * Called right before `working` is renamed into place: from then on it is no longer a leftover to remove. The
 * returned function ends the swap (call it in `finally`).
 */
export function beginSwap(working: string): () => void {
  UNFINISHED.delete(working);
  swapsInProgress++;
  return () => {
    swapsInProgress--;
    if (swapsInProgress === 0) for (const resume of afterSwaps.splice(0)) resume();
  };
}

/**
 * For a signal handler about to exit: once no swap is in progress (one started is let finish, so an output is never
 * left moved aside), removes every unfinished working path of this process, then calls `then` with them, in the same
 * synchronous step: nothing else runs between the removal and `then` (which exits).
 */
export function removeUnfinishedWrites(then: (removed: readonly string[]) => void): void {
  if (swapsInProgress > 0) {
    afterSwaps.push(() => removeUnfinishedWrites(then));
    return;
  }
  const removed = [...UNFINISHED];
  for (const path of removed) {
    try {
      // Retried: a write still in flight in the thread pool may add a file while the folder is being emptied.
      rmSync(path, { recursive: true, force: true, maxRetries: 3, retryDelay: 10 });
    } catch {
      // Left for the next write to the same output (its pid is gone by then): the exit must not wait on it.
    }
  }
  UNFINISHED.clear();
  then(removed);
}
