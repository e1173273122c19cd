import { diskFullCause } from '../core/disk-full.js';
import type { ProgressListener } from '../core/progress.js';

/**
 * Runs writes to the feature cache that give way to a full disk: the first one that fails for want of space is said
 * once (a `CACHE_FULL` warning) and the writes after it are skipped, so the run goes on with the features it holds in
 * memory, as pip goes on without its cache. The cache is only a saving; the model a run writes is what it is for.
 * Any other failure is thrown.
 */
export function cacheWritesUntilFull(cachePath: string, onProgress?: ProgressListener): (write: () => void) => void {
  let full = false;
  return (write) => {
    if (full) return;
    try {
      write();
    } catch (error) {
      if (!diskFullCause(error)) throw error;
      full = true;
      onProgress?.({
        type: 'warning',
        code: 'CACHE_FULL',
        message: `The disk holding the feature cache ${cachePath} is full: features computed from here on are not cached (this run goes on; the next computes them again). Free space there, or move the cache (cacheDir; GRAFT_CACHE_DIR for the CLI).`,
      });
    }
  };
}
