import Database from 'better-sqlite3';
import { GraftError } from '../core/errors.js';
import type { Preprocessing } from '../core/preprocessing.js';
import type { ShardSpec } from './shard-spec.js';
import { encodeF32 } from './vector-encoding.js';

/** Version of a shard file's layout, in its meta row and `PRAGMA user_version`. */
export const SHARD_SCHEMA_VERSION = 1;

/** Rows of a dataset with its own validation folder are `train` (0) or `val` (1); a dataset without one is all `0`. */
export type ShardPart = 0 | 1;

/** What a shard file says about itself (the `meta` table's one JSON document). */
export interface ShardMeta {
  readonly format: 'graft-feature-shard';
  readonly version: number;
  readonly shard: ShardSpec;
  readonly model: {
    readonly name: string;
    /** Where the backbone came from (catalogue name, path or URL): `graft train --store` uses it by default. */
    readonly source: string;
    readonly sha256: string;
    readonly featureDim: number;
    readonly preprocessing: Preprocessing;
    readonly preprocessingHash: string;
  };
  readonly dataset: {
    /** The folder the shard's paths are relative to (a manifest's folder), as the extracting process saw it. */
    readonly root: string;
    /** What `graft embed` was given, where that is not `root`: the manifest file. Absent in shards of earlier Graft. */
    readonly source?: string;
    /** 'split': rows are train (part 0) or val (part 1) from the dataset's folders; 'single': one part, split at training. */
    readonly layout: 'split' | 'single';
    /** Class names (sorted; the training part's), the same in every shard of a store. */
    readonly labels: readonly string[];
    /** Images listed in the whole dataset (all shards); the shards of a store add up to it. */
    readonly listed: number;
    /** sha256 of the whole listing (part, label, path): shards of one store must agree. */
    readonly listingSha256: string;
  };
  /** True once every image assigned to the shard is in it; only complete shards are published under the final name. */
  readonly complete: boolean;
  readonly rows: number;
  readonly skipped: number;
  readonly graftVersion: string;
  readonly updated: string;
}

/** One image of a shard: its vector, or why it has none. */
export interface ShardRow {
  /** Relative to the dataset root with forward slashes (absolute for a manifest entry outside it). */
  readonly path: string;
  readonly part: ShardPart;
  readonly label: string;
  /** sha256 of the file's bytes; null when it could not be read. */
  readonly sha256: string | null;
  /** The file's size and mtime (ns) when it was read: a restarted shard reuses a row whose stamp still matches. */
  readonly size: number;
  readonly mtimeNs: string;
  readonly vector: Float32Array | null;
  readonly reason: string | null;
}

/** A row as read for resuming (no vector: it is not needed to decide). */
export interface ShardRowStamp {
  readonly sha256: string | null;
  readonly size: number;
  readonly mtimeNs: string;
  readonly hasVector: boolean;
}

const CREATE_SCHEMA = `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE rows (
    path     TEXT PRIMARY KEY,
    part     INTEGER NOT NULL,
    label    TEXT NOT NULL,
    sha256   TEXT,
    size     INTEGER NOT NULL,
    mtime_ns TEXT NOT NULL,
    vector   BLOB,
    reason   TEXT,
    seen     INTEGER NOT NULL
  );
  CREATE INDEX rows_order ON rows (part, label, path);
`;

/**
 * One shard's SQLite file. A writer opens its own local working copy (never a file on a network volume); readers open
 * published files read-only. The file stays in rollback-journal mode (not WAL): a WAL file needs its `-shm` and `-wal`
 * siblings and shared-memory locking, which network filesystems do not provide, and a reader of a read-only volume could
 * not create them. Between transactions the file alone is the whole database, so a plain copy of it is a consistent
 * snapshot to publish.
 */
export class ShardStore {
  readonly file: string;
  private readonly db: Database.Database;
  private readonly selectStamp: Database.Statement<[string], { sha256: string | null; size: number; mtime_ns: string; has_vector: number }>;
  private readonly upsert: Database.Statement<[string, number, string, string | null, number, string, Buffer | null, string | null, number]>;
  private readonly touch: Database.Statement<[number, string, number, string]>;
  private readonly restamp: Database.Statement<[number, string, number, string, number, string]>;
  private readonly selectRowNumber: Database.Statement<[string], { n: number }>;

  private constructor(file: string, db: Database.Database) {
    this.file = file;
    this.db = db;
    this.selectStamp = db.prepare('SELECT sha256, size, mtime_ns, vector IS NOT NULL AS has_vector FROM rows WHERE path = ?');
    this.upsert = db.prepare(
      'INSERT OR REPLACE INTO rows (path, part, label, sha256, size, mtime_ns, vector, reason, seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.touch = db.prepare('UPDATE rows SET part = ?, label = ?, seen = ? WHERE path = ?');
    this.restamp = db.prepare('UPDATE rows SET part = ?, label = ?, size = ?, mtime_ns = ?, seen = ? WHERE path = ?');
    this.selectRowNumber = db.prepare('SELECT rowid AS n FROM rows WHERE path = ?');
  }

  /**
   * Opens a working copy for writing, creating the schema in a new file.
   * @throws GraftError `INVALID_DATASET` when the file exists but is not a shard of this version.
   */
  static openForWriting(file: string): ShardStore {
    const db = openDatabase(file, false);
    try {
      db.pragma('journal_mode = DELETE');
      db.pragma('synchronous = NORMAL');
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version === 0) {
        db.exec(CREATE_SCHEMA);
        db.pragma(`user_version = ${SHARD_SCHEMA_VERSION}`);
      } else if (version !== SHARD_SCHEMA_VERSION) {
        throw schemaError(file, version);
      }
      return new ShardStore(file, db);
    } catch (error) {
      db.close();
      throw damagedShard(file, error) ?? error;
    }
  }

  /**
   * Opens a published shard read-only.
   * @throws GraftError `INVALID_DATASET` when the file is missing, not SQLite, or not a shard of this version.
   */
  static openForReading(file: string): ShardStore {
    const db = openDatabase(file, true);
    try {
      // Readers of a store only scan: a small page cache per shard keeps hundreds of open shards cheap.
      db.pragma('cache_size = -1024');
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version !== SHARD_SCHEMA_VERSION) throw schemaError(file, version);
      return new ShardStore(file, db);
    } catch (error) {
      db.close();
      throw damagedShard(file, error) ?? error;
    }
  }

  /** The shard's meta document, or undefined for a new file. */
  meta(): ShardMeta | undefined {
    const row = this.guard(() => this.db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'shard'").get());
    if (!row) return undefined;
    try {
      return JSON.parse(row.value) as ShardMeta;
    } catch (cause) {
      throw new GraftError('INVALID_DATASET', `The feature shard ${this.file} has a damaged meta record.`, {
        hint: 'delete the file and run its graft embed --shard again',
        cause,
      });
    }
  }

  writeMeta(meta: ShardMeta): void {
    this.guard(() => this.db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('shard', ?)").run(JSON.stringify(meta)));
  }

  /** What the shard holds for a path (to decide whether a restarted shard can reuse it). */
  stamp(path: string): ShardRowStamp | undefined {
    const row = this.selectStamp.get(path);
    return row && { sha256: row.sha256, size: row.size, mtimeNs: row.mtime_ns, hasVector: row.has_vector === 1 };
  }

  /**
   * Where a path's row was put, counted from 1 in the order rows were first written (SQLite's rowid). In a new store
   * written once, row by row, that is the row's number in what was written (an import's source file).
   */
  rowNumber(path: string): number | undefined {
    return this.guard(() => this.selectRowNumber.get(path))?.n;
  }

  /** Marks a row as listed by this run, with its current part and label (a relabelled image keeps its vector). */
  keep(path: string, part: ShardPart, label: string, runId: number): void {
    this.touch.run(part, label, runId, path);
  }

  /** Keeps a row whose file was touched but whose content hash is unchanged, recording the new stamp. */
  keepWithStamp(path: string, size: number, mtimeNs: string, part: ShardPart, label: string, runId: number): void {
    this.restamp.run(part, label, size, mtimeNs, runId, path);
  }

  /** Writes rows in ONE transaction: a killed process leaves all or none of them. */
  putRows(rows: readonly ShardRow[], runId: number): void {
    if (rows.length === 0) return;
    this.guard(() =>
      this.db.transaction(() => {
        for (const r of rows) {
          this.upsert.run(r.path, r.part, r.label, r.sha256, r.size, r.mtimeNs, r.vector ? encodeF32(r.vector) : null, r.reason, runId);
        }
      }).immediate(),
    );
  }

  /** Removes rows this run did not list (images deleted from the dataset, or now assigned elsewhere). @returns how many. */
  removeUnseen(runId: number): number {
    return this.guard(() => this.db.prepare('DELETE FROM rows WHERE seen != ?').run(runId).changes);
  }

  /** Rows with a vector and rows without (unreadable files). */
  counts(): { rows: number; skipped: number } {
    const row = this.guard(() =>
      this.db.prepare<[], { rows: number | null; skipped: number | null }>(
        'SELECT SUM(vector IS NOT NULL) AS rows, SUM(vector IS NULL) AS skipped FROM rows',
      ).get(),
    );
    return { rows: row?.rows ?? 0, skipped: row?.skipped ?? 0 };
  }

  /** Rows with a vector in a part (or all parts). */
  countRows(part?: ShardPart): number {
    const sql = 'SELECT COUNT(*) AS n FROM rows WHERE vector IS NOT NULL' + (part === undefined ? '' : ' AND part = ?');
    const statement = this.db.prepare<number[], { n: number }>(sql);
    return this.guard(() => (part === undefined ? statement.get() : statement.get(part))?.n ?? 0);
  }

  /**
   * Rows with a vector, in the store's reading order: part, then label, then path (SQLite compares text as UTF-8
   * bytes; readers that merge shards compare the same way). The vector is the raw little-endian blob.
   */
  iterateOrdered(part?: ShardPart): IterableIterator<{ part: number; label: string; path: string; sha256: string; vector: Buffer }> {
    const sql =
      'SELECT part, label, path, sha256, vector FROM rows INDEXED BY rows_order WHERE vector IS NOT NULL' +
      (part === undefined ? '' : ' AND part = ?') +
      ' ORDER BY part, label, path';
    const statement = this.db.prepare<number[], { part: number; label: string; path: string; sha256: string; vector: Buffer }>(sql);
    return part === undefined ? statement.iterate() : statement.iterate(part);
  }

  /** Every row's path, part and label, with or without a vector (a training-time split needs the unreadable ones too). */
  iterateListing(): IterableIterator<{ path: string; part: number; label: string; reason: string | null; sha256: string | null }> {
    return this.db.prepare<[], { path: string; part: number; label: string; reason: string | null; sha256: string | null }>('SELECT path, part, label, reason, sha256 FROM rows').iterate();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (cause) {
      if (cause instanceof GraftError) throw cause;
      throw new GraftError('CACHE_ERROR', `Cannot use the feature shard ${this.file}: ${cause instanceof Error ? cause.message : String(cause)}`, {
        hint: 'check the disk has space; a damaged shard can be deleted and its graft embed --shard run again',
        cause,
      });
    }
  }
}

/** SQLite's "not a database" and "malformed" (read on the first query, not at open) as the damaged shard they mean. */
function damagedShard(file: string, error: unknown): GraftError | undefined {
  const code = (error as { code?: unknown }).code;
  if (code !== 'SQLITE_NOTADB' && code !== 'SQLITE_CORRUPT') return undefined;
  return new GraftError('INVALID_DATASET', `The feature shard ${file} is damaged (${(error as Error).message})`, {
    hint: 'delete that file and run its graft embed --shard i/n again (i/n as in its name: shard-<i>-of-<n>, counted from 0); the other shards are kept',
    cause: error,
  });
}

function openDatabase(file: string, isReadonly: boolean): Database.Database {
  try {
    return new Database(file, { readonly: isReadonly, fileMustExist: isReadonly });
  } catch (cause) {
    throw new GraftError('INVALID_DATASET', `Cannot open the feature shard ${file}: ${cause instanceof Error ? cause.message : String(cause)}`, {
      hint: isReadonly ? 'check the store folder; run graft features status <store-dir> to see every shard' : 'check that the working folder is writable',
      cause,
    });
  }
}

function schemaError(file: string, version: number): GraftError {
  return new GraftError(
    'INVALID_DATASET',
    `${file} is not a Graft feature shard of version ${SHARD_SCHEMA_VERSION} (user_version ${version}).`,
    { hint: version > SHARD_SCHEMA_VERSION ? 'it was written by a newer Graft: upgrade' : 'use a store folder written by graft embed --store' },
  );
}

