import { statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { GraftError } from '../core/errors.js';
import { defaultCacheDir } from '../core/cache-dir.js';
import { applyFeatureStorePragmas, FEATURE_STORE_BUSY_TIMEOUT_MS } from './sqlite-pragmas.js';
import { decodeF16, decodeF32, encodeF16, encodeF32, FEATURE_DTYPES, type FeatureDtype } from './vector-encoding.js';
import { makeDirectorySync } from '../core/make-directory.js';

/** File name of the store inside the cache folder. */
export const FEATURE_STORE_FILE = 'features-v1.sqlite';
/** Schema version kept in `PRAGMA user_version`. Bump it (and add a migration) when the table changes. */
export const FEATURE_STORE_SCHEMA_VERSION = 1;
/** SQLite's default limit on bound parameters is 32766 here, but a few hundred keeps each statement cheap. */
const MAX_KEYS_PER_QUERY = 500;

/** One vector to store. `key` comes from `featureKey()`; `model` is the backbone's weights sha256 (for `count`/`deleteModel`). */
export interface FeatureEntry {
  readonly key: string;
  readonly model: string;
  readonly data: Float32Array;
  /**
   * How to store it. Defaults to 'f32'. With 'f16', an entry holding a finite value beyond half precision's range
   * (|x| > 65504) is stored as 'f32' instead, so storage never turns a value into Infinity; {@link storedValues}
   * says what a read will return.
   */
  readonly dtype?: FeatureDtype;
}

/** What `stats()` reports. */
export interface FeatureStoreStats {
  /** Absolute path of the SQLite file. */
  readonly path: string;
  readonly schemaVersion: number;
  readonly entries: number;
  /** Sum of the stored vectors' sizes. */
  readonly dataBytes: number;
  /** Size on disk of the database file plus its write-ahead log. */
  readonly fileBytes: number;
  /** One row per (model, dim), most entries first. */
  readonly models: readonly { readonly model: string; readonly dim: number; readonly entries: number }[];
}

// Shared with test/fixtures/feature-writer.mjs, which repeats them in raw SQL: change both together.
const CREATE_SCHEMA = `
  CREATE TABLE features (
    key     TEXT PRIMARY KEY,
    model   TEXT NOT NULL,
    dim     INTEGER NOT NULL,
    dtype   TEXT NOT NULL,
    data    BLOB NOT NULL,
    created INTEGER NOT NULL
  );
  CREATE INDEX features_model ON features (model);
`;

/**
 * A persistent, process-safe cache of feature vectors (ARCHITECTURE.md decision 3), one SQLite file in the cache folder.
 *
 * Several processes (e.g. extraction shards) may open the same store and write at once: each `putMany` is one
 * transaction, so a killed process leaves all or none of a batch. Reads validate every row: a truncated or
 * otherwise inconsistent entry is reported as a miss and removed, never returned.
 *
 * Memory stays bounded (decision 7) as long as callers read and write in batches; nothing is held in memory here.
 *
 * @example
 * ```ts
 * const store = FeatureStore.open();            // the user's cache folder (the CLI passes $GRAFT_CACHE_DIR)
 * try {
 *   const hits = store.getMany(keys);           // Map<key, Float32Array>; absent keys are misses
 *   store.putMany(computed.map(({ key, vector }) => ({ key, model: backbone.sha256, data: vector })));
 * } finally {
 *   store.close();
 * }
 * ```
 */
export class FeatureStore {
  /** Absolute path of the SQLite file. */
  readonly path: string;
  private readonly db: Database.Database;
  private readonly selectStatements = new Map<number, Database.Statement<string[], StoredRow>>();
  private readonly insert: Database.Statement<[string, string, number, string, Buffer, number]>;
  private readonly deleteDamaged: Database.Statement<[string]>;

  private constructor(filePath: string, db: Database.Database) {
    this.path = filePath;
    this.db = db;
    this.insert = db.prepare(
      'INSERT OR REPLACE INTO features (key, model, dim, dtype, data, created) VALUES (?, ?, ?, ?, ?, ?)',
    );
    // Re-checks the damage in SQL, so a row another process rewrote since our read is left alone.
    this.deleteDamaged = db.prepare(
      "DELETE FROM features WHERE key = ? AND dtype IN ('f32', 'f16') AND (typeof(data) != 'blob' OR dim <= 0 OR " +
        "length(data) != dim * (CASE dtype WHEN 'f16' THEN 2 ELSE 4 END))",
    );
  }

  /**
   * Opens (creating if needed) the store in `cacheDir`.
   *
   * @param cacheDir - folder holding `features-v1.sqlite`; created with its parents. Defaults to {@link defaultCacheDir}.
   * @throws GraftError `CACHE_ERROR` when the folder cannot be created or written, when the file is not a Graft
   *   store, or when it was written by a newer Graft (schema version above this one's).
   */
  static open(cacheDir: string = defaultCacheDir()): FeatureStore {
    const dir = path.resolve(cacheDir);
    try {
      makeDirectorySync(dir);
    } catch (cause) {
      throw new GraftError('CACHE_ERROR', `Cannot create the feature cache folder ${dir}: ${reason(cause)}`, {
        hint: 'use a cache folder you can write to (cacheDir; GRAFT_CACHE_DIR for the CLI)',
        cause,
      });
    }
    const filePath = path.join(dir, FEATURE_STORE_FILE);
    let db: Database.Database | undefined;
    try {
      db = new Database(filePath, { timeout: FEATURE_STORE_BUSY_TIMEOUT_MS });
      applyFeatureStorePragmas(db);
      migrate(db, filePath);
      return new FeatureStore(filePath, db);
    } catch (cause) {
      db?.close();
      if (cause instanceof GraftError) throw cause;
      throw new GraftError('CACHE_ERROR', `Cannot open the feature cache ${filePath}: ${reason(cause)}`, {
        hint:
          `check that ${dir} is writable and on a local disk; if the file is damaged, delete it (it is only a cache), ` +
          'or use another cache folder (cacheDir; GRAFT_CACHE_DIR for the CLI)',
        cause,
      });
    }
  }

  /**
   * A store held in memory, gone when closed: what a run uses when the cache's disk is too full to open the file
   * (`CacheSpace`).
   */
  static inMemory(): FeatureStore {
    const db = new Database(':memory:');
    migrate(db, ':memory:');
    return new FeatureStore(':memory:', db);
  }

  /**
   * Looks up many keys at once (in queries of at most 500 keys).
   *
   * @returns the hits, keyed by the requested key; a key that is absent, stale or damaged is simply not in the map.
   *   Each vector is a fresh, aligned `Float32Array` the caller owns.
   */
  getMany(keys: readonly string[]): Map<string, Float32Array> {
    const found = new Map<string, Float32Array>();
    const unique = [...new Set(keys)];
    const damaged: string[] = [];
    this.guard('read from', () => {
      for (let start = 0; start < unique.length; start += MAX_KEYS_PER_QUERY) {
        const chunk = unique.slice(start, start + MAX_KEYS_PER_QUERY);
        for (const row of this.selectStatement(chunk.length).iterate(...chunk)) {
          const vector = decodeRow(row);
          if (vector === 'unknown-dtype') continue; // written by a newer Graft: a miss, but not ours to delete
          if (vector === 'damaged') damaged.push(row.key);
          else found.set(row.key, vector);
        }
      }
    });
    if (damaged.length > 0) {
      // A stale or damaged entry is a miss, never a wrong answer; removing it lets the next putMany rewrite it.
      this.guard('repair', () => this.db.transaction(() => damaged.forEach((key) => this.deleteDamaged.run(key))).immediate());
    }
    return found;
  }

  /**
   * Stores many vectors in ONE transaction: after a crash or kill, either all of them are present or none.
   * An existing entry with the same key is replaced.
   *
   * @throws TypeError for an entry without a string key/model, with an empty or non-Float32Array `data`, or with an
   *   unknown `dtype`.
   * @throws GraftError `CACHE_ERROR` when the write fails (disk full, another process held the lock for > 10 s).
   */
  putMany(entries: readonly FeatureEntry[]): void {
    entries.forEach(checkEntry);
    if (entries.length === 0) return;
    const created = Date.now();
    // IMMEDIATE takes the write lock up front, so a concurrent writer waits in busy_timeout instead of
    // failing on a read-to-write lock upgrade (which SQLite reports as SQLITE_BUSY without waiting).
    const write = this.db.transaction(() => {
      for (const entry of entries) {
        const half = entry.dtype === 'f16' ? encodeF16(entry.data) : undefined;
        if (half) this.insert.run(entry.key, entry.model, entry.data.length, 'f16', half, created);
        else this.insert.run(entry.key, entry.model, entry.data.length, 'f32', encodeF32(entry.data), created);
      }
    });
    this.guard('write to', () => write.immediate());
  }

  /** Number of stored vectors, for one model (its weights sha256) or for all. */
  count(model?: string): number {
    return this.guard('read from', () => {
      const row =
        model === undefined
          ? this.db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM features').get()
          : this.db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM features WHERE model = ?').get(model);
      return row?.n ?? 0;
    });
  }

  /** Removes every vector of one model. @returns how many were removed. */
  deleteModel(model: string): number {
    return this.guard('write to', () => this.db.prepare('DELETE FROM features WHERE model = ?').run(model).changes);
  }

  /**
   * Removes every vector, then gives the space back to the file system (VACUUM, best effort: a reader holding the file
   * open keeps it at its size until it closes). Other processes may go on using the store: they then miss and compute.
   * @returns how many vectors were removed.
   */
  clear(): number {
    const removed = this.guard('write to', () => this.db.prepare('DELETE FROM features').run().changes);
    try {
      this.db.exec('VACUUM');
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      // busy: the rows are gone; the file shrinks at a later VACUUM
    }
    return removed;
  }

  /** Sizes and per-model counts, for `graft cache info`. */
  stats(): FeatureStoreStats {
    return this.guard('read from', () => {
      const models = this.db
        .prepare<[], { model: string; dim: number; entries: number; bytes: number }>(
          'SELECT model, dim, COUNT(*) AS entries, SUM(LENGTH(data)) AS bytes FROM features GROUP BY model, dim ORDER BY entries DESC, model',
        )
        .all();
      return {
        path: this.path,
        schemaVersion: this.db.pragma('user_version', { simple: true }) as number,
        entries: models.reduce((sum, m) => sum + m.entries, 0),
        dataBytes: models.reduce((sum, m) => sum + m.bytes, 0),
        fileBytes: fileSize(this.path) + fileSize(`${this.path}-wal`),
        models: models.map(({ model, dim, entries }) => ({ model, dim, entries })),
      };
    });
  }

  /** Closes the connection. Safe to call twice; any other method throws afterwards. */
  close(): void {
    if (this.db.open) this.db.close();
  }

  private selectStatement(size: number): Database.Statement<string[], StoredRow> {
    let statement = this.selectStatements.get(size);
    if (!statement) {
      const placeholders = new Array<string>(size).fill('?').join(', ');
      statement = this.db.prepare<string[], StoredRow>(
        `SELECT key, dim, dtype, data FROM features WHERE key IN (${placeholders})`,
      );
      this.selectStatements.set(size, statement);
    }
    return statement;
  }

  private guard<T>(action: string, fn: () => T): T {
    try {
      return fn();
    } catch (cause) {
      if (cause instanceof GraftError || cause instanceof TypeError || cause instanceof RangeError) throw cause;
      throw new GraftError('CACHE_ERROR', `Cannot ${action} the feature cache ${this.path}: ${reason(cause)}`, {
        hint: 'if another Graft process is writing, retry when it is done; otherwise use another cache folder (cacheDir; GRAFT_CACHE_DIR for the CLI)',
        cause,
      });
    }
  }
}

interface StoredRow {
  key: string;
  dim: number;
  dtype: string;
  data: Buffer | null;
}

/** Creates the schema in a new file, recreates it from an unversioned one, and refuses a newer one. */
function migrate(db: Database.Database, filePath: string): void {
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version === FEATURE_STORE_SCHEMA_VERSION) return;
    if (version > FEATURE_STORE_SCHEMA_VERSION) {
      throw new GraftError(
        'CACHE_ERROR',
        `The feature cache ${filePath} has schema version ${version}; this Graft reads version ${FEATURE_STORE_SCHEMA_VERSION}. ` +
          'It was written by a newer Graft.',
        { hint: 'upgrade Graft, or use another cache folder for this version (cacheDir; GRAFT_CACHE_DIR for the CLI)' },
      );
    }
    // Version 0 is a new file (or one from before versioning). A cache holds nothing that cannot be recomputed,
    // so an older layout is dropped and recreated rather than converted.
    db.exec('DROP TABLE IF EXISTS features');
    db.exec(CREATE_SCHEMA);
    db.pragma(`user_version = ${FEATURE_STORE_SCHEMA_VERSION}`);
  }).immediate();
}

/** A stored row's vector, or why it cannot be used. */
function decodeRow(row: StoredRow): Float32Array | 'damaged' | 'unknown-dtype' {
  if (row.dtype !== 'f32' && row.dtype !== 'f16') return 'unknown-dtype';
  const dim = row.dim;
  const bytesPerValue = row.dtype === 'f16' ? 2 : 4;
  if (!Number.isSafeInteger(dim) || dim <= 0 || !Buffer.isBuffer(row.data) || row.data.length !== dim * bytesPerValue) {
    return 'damaged';
  }
  return row.dtype === 'f16' ? decodeF16(row.data, dim) : decodeF32(row.data, dim);
}

function checkEntry(entry: FeatureEntry, index: number): void {
  if (typeof entry.key !== 'string' || entry.key.length === 0) {
    throw new TypeError(`putMany: entries[${index}].key must be a non-empty string (from featureKey()). Received: ${JSON.stringify(entry.key)}`);
  }
  if (typeof entry.model !== 'string' || entry.model.length === 0) {
    throw new TypeError(`putMany: entries[${index}].model must be a non-empty string. Received: ${JSON.stringify(entry.model)}`);
  }
  if (!(entry.data instanceof Float32Array) || entry.data.length === 0) {
    const received = entry.data instanceof Float32Array ? 'an empty Float32Array' : Object.prototype.toString.call(entry.data);
    throw new TypeError(`putMany: entries[${index}].data must be a non-empty Float32Array. Received: ${received}`);
  }
  if (entry.dtype !== undefined && !FEATURE_DTYPES.includes(entry.dtype)) {
    throw new TypeError(`putMany: entries[${index}].dtype must be one of ${FEATURE_DTYPES.join(', ')}. Received: ${JSON.stringify(entry.dtype)}`);
  }
}

function fileSize(filePath: string): number {
  try {
    return statSync(filePath).size;
  } catch {
    return 0; // the WAL file exists only while a connection is open
  }
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
