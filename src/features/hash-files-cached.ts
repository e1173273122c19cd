import { unlessDiskFull } from '../core/disk-full.js';
import { hashFiles } from '../data/find-duplicates.js';
import { FileHashIndex } from './file-hash-index.js';

/**
 * sha256 of each file, read from the cache's file index where the file has not changed since it was last hashed
 * (a warm run reads no image), and recorded there for the files that had to be read. Undefined for a file that
 * cannot be read. The hashes are the ones feature extraction keys the cache by, so extraction then finds them too.
 */
export async function hashFilesCached(files: readonly string[], cacheDir: string): Promise<(string | undefined)[]> {
  // A full disk under the cache costs only the saving: the hashes are computed all the same (training's CacheSpace says so).
  const index = unlessDiskFull(() => FileHashIndex.open(cacheDir), () => FileHashIndex.inMemory());
  try {
    const stamps = await FileHashIndex.stamp(files);
    const hashes = stamps.map((stamp) => stamp && index.lookup(stamp));
    const missing = hashes.flatMap((hash, i) => (hash === undefined && stamps[i] ? [i] : []));
    const computed = await hashFiles(missing.map((i) => files[i]!));
    const recorded = missing.flatMap((i, k) => {
      hashes[i] = computed[k];
      return computed[k] ? [{ stamp: stamps[i]!, sha256: computed[k] }] : [];
    });
    unlessDiskFull(() => index.record(recorded), () => undefined);
    return hashes;
  } finally {
    index.close();
  }
}
