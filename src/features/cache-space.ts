import { unlessDiskFull } from '../core/disk-full.js';
import type { ProgressListener } from '../core/progress.js';
import { FeatureStore } from './feature-store.js';
import { FileHashIndex } from './file-hash-index.js';

/**
 * One run's use of the cache folder, which gives way to a full disk: a cache file that cannot be opened for want of
 * space is replaced by an in-memory stand-in, and a write that fails for it is skipped, each said once for the run (a
 * `CACHE_FULL` warning), so training goes on with what it holds in memory, as pip goes on without its cache. The cache
 * is only a saving; the model a run writes is what it is for. Any other failure is thrown.
 */
export class CacheSpace {
  private isFull = false;

  constructor(
    private readonly cacheDir: string,
    private readonly onProgress?: ProgressListener,
  ) {}

  /** `open()`, or `inMemory()` where the disk is too full to open (create) the file. */
  open<T>(open: () => T, inMemory: () => T): T {
    return unlessDiskFull(open, () => {
      this.full();
      return inMemory();
    });
  }

  /** The feature store and the file index of the cache folder, each in memory where the disk is too full to open it. */
  openStores(): { readonly store: FeatureStore; readonly fileIndex: FileHashIndex } {
    const store = this.open(() => FeatureStore.open(this.cacheDir), () => FeatureStore.inMemory());
    const fileIndex = this.open(() => FileHashIndex.open(this.cacheDir), () => FileHashIndex.inMemory());
    return { store, fileIndex };
  }

  /** Runs `write`, unless the disk was found full; a write that finds it full is dropped. */
  write(write: () => void): void {
    if (!this.isFull) unlessDiskFull(write, () => this.full());
  }

  private full(): void {
    if (this.isFull) return;
    this.isFull = true;
    this.onProgress?.({
      type: 'warning',
      code: 'CACHE_FULL',
      message: `The disk holding the cache ${this.cacheDir} is full: this run goes on without caching the features it computes (the next computes them again). Free space there, or move the cache (cacheDir; GRAFT_CACHE_DIR for the CLI).`,
    });
  }
}
