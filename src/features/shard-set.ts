import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { GraftError } from '../core/errors.js';
import { parseShardFileName, shardFileName } from './shard-spec.js';
import { ShardStore, type ShardMeta } from './shard-store.js';

/** One shard index of a store, as `graft features status` shows it. */
export interface ShardStatus {
  readonly index: number;
  /**
   * complete: published; partial: only a checkpoint (running, or interrupted: rerun it); missing: never started;
   * damaged: a file that cannot be read as a shard (delete it, then rerun its index).
   */
  readonly state: 'complete' | 'partial' | 'missing' | 'damaged';
  readonly file: string | null;
  /** Vectors, and images that could not be used, in the file (0 when missing). */
  readonly rows: number;
  readonly skipped: number;
  /** When the file was last written (ISO time). */
  readonly updated: string | null;
}

/** Every shard of a store folder and whether they make a whole. */
export interface StoreStatus {
  readonly dir: string;
  /** Shard count of the files found (null when the folder holds no shard). */
  readonly count: number | null;
  readonly shards: ShardStatus[];
  readonly isComplete: boolean;
  /** Problems that stop training from this store, each a sentence naming the file. */
  readonly problems: string[];
  /** The first complete shard's meta (backbone, preprocessing, dataset), if any. */
  readonly meta: ShardMeta | null;
}

/**
 * Looks at a store folder without failing: which shards are complete, partial or missing, and what is inconsistent.
 * @throws GraftError `INVALID_DATASET` only when the folder cannot be read.
 */
export function storeStatus(storeDir: string): StoreStatus {
  const dir = resolve(storeDir);
  const names = readFolder(dir);
  const found = names.map((name) => ({ name, spec: parseShardFileName(name) })).filter((f) => f.spec !== undefined);
  const counts = [...new Set(found.map((f) => f.spec!.count))].sort((a, b) => a - b);
  const problems: string[] = [];
  if (counts.length > 1) problems.push(`${dir} holds shards of ${counts.length} different counts (${counts.map((c) => `of-${String(c).padStart(5, '0')}`).join(', ')}); keep one set`);
  const count = counts.length > 0 ? counts[counts.length - 1]! : null;
  const shards: ShardStatus[] = [];
  let reference: { meta: ShardMeta; file: string } | undefined;
  let total = 0;
  for (let index = 0; count !== null && index < count; index++) {
    const finalName = shardFileName({ index, count });
    const partialName = shardFileName({ index, count }, true);
    const state = names.includes(finalName) ? 'complete' : names.includes(partialName) ? 'partial' : 'missing';
    if (state === 'missing') {
      shards.push({ index, state, file: null, rows: 0, skipped: 0, updated: null });
      continue;
    }
    const file = join(dir, state === 'complete' ? finalName : partialName);
    let read: { meta: ShardMeta | undefined; rows: number; skipped: number };
    try {
      read = readShard(file);
    } catch (error) {
      // Every shard is looked at: one damaged file does not hide the others' state.
      if (!(error instanceof GraftError)) throw error;
      shards.push({ index, state: 'damaged', file, rows: 0, skipped: 0, updated: null });
      problems.push(`${error.message}; delete it and rerun shard ${index}/${count}`);
      continue;
    }
    const { meta, rows, skipped } = read;
    shards.push({ index, state, file, rows, skipped, updated: meta?.updated ?? null });
    if (state !== 'complete') continue;
    total += rows + skipped;
    if (!meta || meta.format !== 'graft-feature-shard' || !meta.complete) {
      problems.push(`${file} is not a complete Graft feature shard`);
    } else if (meta.shard.index !== index || meta.shard.count !== count) {
      // A copied or renamed file: its rows are another shard's (trained twice), and this index's are missing.
      problems.push(`${file} holds shard ${meta.shard.index}/${meta.shard.count}, not ${index}/${count} as its name says (copied or renamed?); delete it and rerun shard ${index}/${count}`);
    } else if (!reference) {
      reference = { meta, file };
    } else {
      const mismatch = differences(reference.meta, meta);
      if (mismatch) problems.push(`${file} was made with ${mismatch}, unlike ${reference.file}`);
    }
  }
  const incomplete = shards.filter((s) => s.state === 'partial' || s.state === 'missing');
  if (incomplete.length > 0) {
    const describe = (s: ShardStatus): string => `${s.index}${s.state === 'partial' ? ' (only a checkpoint: still running or interrupted)' : ''}`;
    problems.push(`shard${incomplete.length > 1 ? 's' : ''} ${incomplete.map(describe).join(', ')} of ${count} ${incomplete.length > 1 ? 'are' : 'is'} not complete in ${dir}`);
  }
  if (reference && incomplete.length === 0 && problems.length === 0 && total !== reference.meta.dataset.listed) {
    problems.push(`the shards hold ${total} images but their dataset listed ${reference.meta.dataset.listed}; rerun the shards`);
  }
  if (count === null) problems.push(`no feature shards (shard-NNNNN-of-NNNNN.sqlite) in ${dir}`);
  return { dir, count, shards, isComplete: problems.length === 0, problems, meta: reference?.meta ?? null };
}

/** A shard file's meta and counts; GraftError `INVALID_DATASET` when it cannot be read as a shard (damaged). */
function readShard(file: string): { meta: ShardMeta | undefined; rows: number; skipped: number } {
  const store = ShardStore.openForReading(file);
  try {
    return { meta: store.meta(), ...store.counts() };
  } finally {
    store.close();
  }
}

/** An open, consistent, complete set of shards: what training and export read. */
export interface ShardSet {
  readonly dir: string;
  readonly meta: ShardMeta;
  /** One open store per shard, in index order. */
  readonly stores: readonly ShardStore[];
  close(): void;
}

/**
 * Opens every shard of a store for reading, after checking that they make a whole: one shard count, none missing or
 * partial, all made with the same backbone, preprocessing and dataset listing, and adding up to the listing.
 *
 * @throws GraftError `INVALID_DATASET` listing every problem, with the command that fixes the first.
 */
export function openShardSet(storeDir: string): ShardSet {
  const status = storeStatus(storeDir);
  if (!status.isComplete || !status.meta) {
    // The manifest a store was embedded from, not its folder: embedding the folder lists other images (val rows too).
    const data = status.meta?.dataset.source ?? status.meta?.dataset.root ?? '<data>';
    const first = status.shards.find((s) => s.state !== 'complete' && s.state !== 'damaged');
    throw new GraftError('INVALID_DATASET', `The feature store ${status.dir} cannot be used: ${status.problems.join('; ')}.`, {
      hint: first
        ? `run graft embed ${data} --store ${status.dir} --shard ${first.index}/${status.count} (with the same --backbone) for each shard not complete; graft features status ${status.dir} lists them`
        : `recompute the listed shards with graft embed ${data} --store ${status.dir} --shard <i>/<n>, or use another --store folder`,
    });
  }
  const stores: ShardStore[] = [];
  try {
    for (const shard of status.shards) stores.push(ShardStore.openForReading(shard.file!));
  } catch (error) {
    stores.forEach((s) => s.close());
    throw error;
  }
  return { dir: status.dir, meta: status.meta, stores, close: () => stores.forEach((s) => s.close()) };
}

/** What differs between two shards' origins, in words, or undefined when they can be read together. */
function differences(a: ShardMeta, b: ShardMeta): string | undefined {
  if (a.model.sha256 !== b.model.sha256) return `backbone ${b.model.name} (sha256 ${b.model.sha256.slice(0, 12)}...) instead of ${a.model.name} (sha256 ${a.model.sha256.slice(0, 12)}...)`;
  if (a.model.preprocessingHash !== b.model.preprocessingHash) return `other preprocessing (${JSON.stringify(b.model.preprocessing)})`;
  if (a.dataset.listingSha256 !== b.dataset.listingSha256) return `another listing of the dataset (${b.dataset.listed} images instead of ${a.dataset.listed}: files added, removed or relabelled between runs)`;
  if (JSON.stringify(a.dataset.labels) !== JSON.stringify(b.dataset.labels) || a.dataset.layout !== b.dataset.layout) return 'other classes';
  return undefined;
}

function readFolder(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (cause) {
    throw new GraftError('INVALID_DATASET', `Feature store folder not found: ${dir}`, {
      hint: 'pass the folder given to graft embed --store',
      cause,
    });
  }
}

/** Whether `dir` is a folder holding shard files (so `graft train <dir>` trains from features). */
export function isFeatureStore(dir: string): boolean {
  try {
    return readdirSync(dir).some((name) => parseShardFileName(name) !== undefined);
  } catch {
    return false;
  }
}
