import { existsSync } from 'node:fs';
import { readdir, rm, rmdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { causeWithCode } from '../core/disk-full.js';
import { CATALOGUE, isCatalogueName } from '../hub/catalogue.js';
import { FEATURE_STORE_FILE, FeatureStore } from './feature-store.js';
import { FILE_INDEX_FILE, FileHashIndex } from './file-hash-index.js';

/** What a Graft cache folder holds (`graft cache info`). */
export interface CacheContents {
  readonly dir: string;
  /** The feature cache: vectors by backbone (model id), with the catalogue name where the id is a catalogue model's. */
  readonly features: {
    readonly path: string;
    readonly entries: number;
    readonly fileBytes: number;
    readonly models: readonly { readonly model: string; readonly name: string | null; readonly dim: number; readonly entries: number }[];
    /** Why the database cannot be read, when it cannot (then it holds nothing usable: `graft cache clear` removes it). */
    readonly damaged?: string;
  } | null;
  /** Each image file's hash by its size and times, so a warm run reads no image. */
  readonly fileIndex: { readonly path: string; readonly bytes: number } | null;
  /** ONNX exports of TF.js and Keras backbones, and the backbones' descriptions: made again on the next run. */
  readonly exportsBytes: number;
  /** Downloaded backbones: a catalogue name's folder, or `url-<hash>` for a model given by URL (other folders there are not Graft's, and not listed). */
  readonly models: readonly { readonly folder: string; readonly path: string; readonly bytes: number }[];
  /** Everything in the folder, in bytes. */
  readonly totalBytes: number;
}

/** Folders of the cache that a run makes again when they are missing (formats/: backbone exports and descriptions). */
const REGENERATED = ['exports', 'backbones'];

/**
 * The names Graft gives what it writes in the cache, and only those are ever removed: the cache may be a folder that
 * holds other things (GRAFT_CACHE_DIR=~, or a project folder with its own models/ or exports/).
 * Exports and descriptions start with the model id (a sha256 in hex) and a dash (`<sha256>-auto-2.onnx`, and the
 * `.tmp-` files a killed write left); downloads are a catalogue name's folder or `url-<16 hex>`.
 */
const OWN_REGENERATED_FILE = /^[0-9a-f]{64}-/;
const URL_MODEL_FOLDER = /^url-[0-9a-f]{16}$/;

/** Whether a folder under `<cache>/models` is a download of Graft's (a catalogue name, or a model given by URL). */
function isDownloadFolder(name: string): boolean {
  return isCatalogueName(name) || URL_MODEL_FOLDER.test(name);
}

/** What `clearCache` removed. */
export interface ClearedCache {
  readonly features: number;
  readonly files: number;
  readonly models: readonly string[];
  /** Bytes the folder held before and holds after. */
  readonly bytesBefore: number;
  readonly bytesAfter: number;
}

/** The cache folder's contents, read without changing anything (a missing folder is an empty cache). */
export async function cacheContents(cacheDir: string): Promise<CacheContents> {
  const dir = resolve(cacheDir);
  const featurePath = join(dir, FEATURE_STORE_FILE);
  let features: CacheContents['features'] = null;
  if (existsSync(featurePath)) {
    try {
      const store = FeatureStore.open(dir);
      try {
        const stats = store.stats();
        features = {
          path: stats.path,
          entries: stats.entries,
          fileBytes: stats.fileBytes,
          models: stats.models.map((m) => ({ ...m, name: catalogueNameOf(m.model) })),
        };
      } finally {
        store.close();
      }
    } catch (error) {
      if (!isDamagedDatabase(error)) throw error;
      features = { path: featurePath, entries: 0, fileBytes: await sizeOf(featurePath), models: [], damaged: (error as Error).message };
    }
  }
  const indexPath = join(dir, FILE_INDEX_FILE);
  const fileIndex = existsSync(indexPath) ? { path: indexPath, bytes: (await sizeOf(indexPath)) + (await sizeOf(`${indexPath}-wal`)) } : null;
  const modelsDir = join(dir, 'models');
  const folders = existsSync(modelsDir) ? (await readdir(modelsDir, { withFileTypes: true })).filter((e) => e.isDirectory() && isDownloadFolder(e.name)).map((e) => e.name).sort() : [];
  const models = await Promise.all(folders.map(async (folder) => ({ folder, path: join(modelsDir, folder), bytes: await sizeOf(join(modelsDir, folder)) })));
  const exportsBytes = (await Promise.all(REGENERATED.map((folder) => sizeOf(join(dir, folder))))).reduce((a, b) => a + b, 0);
  return { dir, features, fileIndex, exportsBytes, models, totalBytes: await sizeOf(dir) };
}

/**
 * Empties the cache of what Graft can compute again: every feature vector and file hash, and the backbones' exports
 * and descriptions; with `models`, the downloaded backbones too (they must then be downloaded again). Only files and
 * folders named as Graft names them are removed, never a folder whole: whatever else the folder holds stays.
 * Safe while other Graft processes use the cache: they miss, and compute again.
 */
export async function clearCache(cacheDir: string, options: { readonly models?: boolean } = {}): Promise<ClearedCache> {
  const dir = resolve(cacheDir);
  const bytesBefore = await sizeOf(dir);
  let features = 0;
  let files = 0;
  // A database that cannot be read is removed whole (with its journal): the command that empties the cache must not
  // stop at the one thing the user wants gone.
  if (existsSync(join(dir, FEATURE_STORE_FILE))) features = await clearOrRemove(join(dir, FEATURE_STORE_FILE), () => FeatureStore.open(dir));
  if (existsSync(join(dir, FILE_INDEX_FILE))) files = await clearOrRemove(join(dir, FILE_INDEX_FILE), () => FileHashIndex.open(dir));
  for (const folder of REGENERATED) await removeOwnFiles(join(dir, folder));
  const models = options.models ? (await cacheContents(dir)).models.map((m) => m.folder) : [];
  for (const folder of models) await rm(join(dir, 'models', folder), { recursive: true, force: true });
  return { features, files, models, bytesBefore, bytesAfter: await sizeOf(dir) };
}

/** The rows the opened database's `clear()` removed; for a damaged database, its files removed instead (0 rows counted). */
async function clearOrRemove(path: string, open: () => { clear(): number; close(): void }): Promise<number> {
  try {
    const db = open();
    try {
      return db.clear();
    } finally {
      db.close();
    }
  } catch (error) {
    if (!isDamagedDatabase(error)) throw error;
    await Promise.all(['', '-wal', '-shm', '-journal'].map((suffix) => rm(`${path}${suffix}`, { force: true })));
    return 0;
  }
}

/** Whether SQLite (or a cause of the error) says the file is not a readable database. */
function isDamagedDatabase(error: unknown): boolean {
  return causeWithCode(error, (code) => /^SQLITE_(CORRUPT|NOTADB)/.test(code)) !== undefined;
}

/** Removes the exports (or descriptions) in `folder`, then the folder itself if nothing else is in it. */
async function removeOwnFiles(folder: string): Promise<void> {
  const names = await readdir(folder).catch(() => [] as string[]);
  await Promise.all(names.filter((name) => OWN_REGENERATED_FILE.test(name)).map((name) => rm(join(folder, name), { recursive: true, force: true })));
  await rmdir(folder).catch(() => undefined);
}

/** The catalogue name whose known model id this is; null for any other model. */
function catalogueNameOf(modelId: string): string | null {
  const name = Object.keys(CATALOGUE).find((key) => isCatalogueName(key) && (CATALOGUE[key].sha256 as readonly string[]).includes(modelId));
  return name ?? null;
}

/** Bytes of a file, or of everything under a folder; 0 for what does not exist. */
async function sizeOf(path: string): Promise<number> {
  const info = await stat(path).catch(() => undefined);
  if (!info) return 0;
  if (!info.isDirectory()) return info.size;
  const entries = await readdir(path);
  const sizes = await Promise.all(entries.map((entry) => sizeOf(join(path, entry))));
  return sizes.reduce((sum, size) => sum + size, 0);
}
