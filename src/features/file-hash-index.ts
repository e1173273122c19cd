import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { GraftError } from '../core/errors.js';
import { applyFeatureStorePragmas } from './sqlite-pragmas.js';
import { makeDirectorySync } from '../core/make-directory.js';

/** How many files are stat'ed at once: enough to keep a network file system busy, few enough to bound memory. */
const STAT_CONCURRENCY = 64;

export const FILE_INDEX_FILE = 'files-v1.sqlite';

const CREATE_FILES = 'CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns TEXT NOT NULL, ctime_ns TEXT NOT NULL, sha256 TEXT NOT NULL)';

/** What identifies one version of a file without reading it: path, size, and modification and change times. */
export interface FileStamp {
  readonly file: string;
  readonly size: number;
  /** mtime and ctime in nanoseconds; ctime cannot be set by tools that restore mtimes, so both are checked. */
  readonly mtimeNs: string;
  readonly ctimeNs: string;
}

/**
 * Remembers each image file's sha256 by its stamp, so that a warm run finds cached features without reading
 * the images (like git's index). The content hash stays the cache key: a file whose stamp changed is read and
 * hashed again, so an edited image is never served stale features.
 */
export class FileHashIndex {
  private readonly db: Database.Database;
  private readonly path: string;
  private readonly select: Database.Statement<[string, number, string, string], { sha256: string }>;
  private readonly insert: Database.Statement<[string, number, string, string, string]>;

  private constructor(db: Database.Database, path: string) {
    this.db = db;
    this.path = path;
    this.select = db.prepare('SELECT sha256 FROM files WHERE path = ? AND size = ? AND mtime_ns = ? AND ctime_ns = ?');
    this.insert = db.prepare('INSERT OR REPLACE INTO files (path, size, mtime_ns, ctime_ns, sha256) VALUES (?, ?, ?, ?, ?)');
  }

  static open(cacheDir: string): FileHashIndex {
    const path = join(resolve(cacheDir), FILE_INDEX_FILE);
    try {
      makeDirectorySync(resolve(cacheDir));
      const db = new Database(path);
      applyFeatureStorePragmas(db);
      db.exec(CREATE_FILES);
      return new FileHashIndex(db, path);
    } catch (cause) {
      throw new GraftError('CACHE_ERROR', `Cannot open the file index ${path}: ${(cause as Error).message}`, {
        hint: 'use a cache folder you can write to (cacheDir; GRAFT_CACHE_DIR for the CLI)',
        cause,
      });
    }
  }

  /** An index held in memory, gone when closed: a run's stand-in when the cache's disk is too full to open the file. */
  static inMemory(): FileHashIndex {
    const db = new Database(':memory:');
    db.exec(CREATE_FILES);
    return new FileHashIndex(db, ':memory:');
  }

  /**
   * Stamps of the files (undefined where a file cannot be stat'ed: the reader will report it). A file listed many times
   * (a manifest that repeats a path) is stat'ed once, and at most STAT_CONCURRENCY at a time: a stat for each of 200 000
   * rows at once held ~1 GB of pending promises and buffers.
   */
  static async stamp(files: readonly string[]): Promise<(FileStamp | undefined)[]> {
    const unique = [...new Set(files.map((file) => resolve(file)))];
    const stamps = new Map<string, FileStamp | undefined>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < unique.length) {
        const file = unique[next++]!;
        try {
          const s = await stat(file, { bigint: true });
          stamps.set(file, { file, size: Number(s.size), mtimeNs: String(s.mtimeNs), ctimeNs: String(s.ctimeNs) });
        } catch {
          stamps.set(file, undefined);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(STAT_CONCURRENCY, unique.length) }, worker));
    return files.map((file) => stamps.get(resolve(file)));
  }

  /** The recorded sha256 for a stamp, if the file has not changed since it was hashed. */
  lookup(stamp: FileStamp): string | undefined {
    return this.select.get(stamp.file, stamp.size, stamp.mtimeNs, stamp.ctimeNs)?.sha256;
  }

  /** Records hashes; the stamps must be taken before the files were read, so a file edited meanwhile is re-read next time. */
  record(entries: readonly { stamp: FileStamp; sha256: string }[]): void {
    if (!entries.length) return;
    try {
      this.db.transaction(() => {
        for (const { stamp, sha256 } of entries) this.insert.run(stamp.file, stamp.size, stamp.mtimeNs, stamp.ctimeNs, sha256);
      }).immediate();
    } catch (cause) {
      // Named, as the feature store's failures are: SQLite's own message ("database or disk is full") names no file.
      throw new GraftError('CACHE_ERROR', `Cannot write to the file index ${this.path}: ${(cause as Error).message}`, {
        hint: 'if another Graft process is writing, retry when it is done; otherwise use another cache folder (cacheDir; GRAFT_CACHE_DIR for the CLI)',
        cause,
      });
    }
  }

  /** Forgets every file's hash (the next run reads and hashes its images again). @returns how many were forgotten. */
  clear(): number {
    return this.db.prepare('DELETE FROM files').run().changes;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
