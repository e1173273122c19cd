import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
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
  /** The meta (backbone, preprocessing, dataset) most complete shards agree on, if any (the first shard's in a tie). */
  readonly meta: ShardMeta | null;
  /** Complete shards made unlike others (another dataset listing, backbone or preprocessing), when there are any. */
  readonly mismatch: ShardMismatch | null;
}

/** Complete shards of one store that were not all made alike: which to recompute. */
export interface ShardMismatch {
  /** The shards made unlike most (the odd ones out); in a tie, every shard of the tied groups and the rest. */
  readonly shards: number[];
  /** No way of making them has the most shards, so which is current cannot be told. */
  readonly isTie: boolean;
  /** They differ in backbone or preprocessing, which graft embed does not overwrite (delete them first). */
  readonly isOtherModel: boolean;
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
  const made: MadeShard[] = [];
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
    } else {
      made.push({ index, file, meta });
    }
  }
  const { reference, mismatch } = compareOrigins(made, problems);
  const incomplete = shards.filter((s) => s.state === 'partial' || s.state === 'missing');
  if (incomplete.length > 0) {
    const describe = (s: ShardStatus): string => `${s.index}${s.state === 'partial' ? ' (only a checkpoint: still running or interrupted)' : ''}`;
    problems.push(`shard${incomplete.length > 1 ? 's' : ''} ${incomplete.map(describe).join(', ')} of ${count} ${incomplete.length > 1 ? 'are' : 'is'} not complete in ${dir}`);
  }
  if (reference && incomplete.length === 0 && problems.length === 0 && total !== reference.meta.dataset.listed) {
    problems.push(`the shards hold ${total} images but their dataset listed ${reference.meta.dataset.listed}; rerun the shards`);
  }
  if (count === null) problems.push(`no feature shards (shard-NNNNN-of-NNNNN.sqlite) in ${dir}`);
  return { dir, count, shards, isComplete: problems.length === 0, problems, meta: reference?.meta ?? null, mismatch };
}

interface MadeShard {
  readonly index: number;
  readonly file: string;
  readonly meta: ShardMeta;
}

/**
 * Groups the complete shards by how they were made and says which differ. The group with the most shards is the
 * reference and the others are named: when the dataset changed between shards, the odd ones out are the stale ones to
 * recompute (comparing each with the first shard named the current ones when the first was stale). In a tie, which
 * is current cannot be told, and every group is named.
 */
function compareOrigins(made: readonly MadeShard[], problems: string[]): { reference: MadeShard | undefined; mismatch: ShardMismatch | null } {
  const groups: MadeShard[][] = [];
  for (const shard of made) {
    const group = groups.find((g) => differences(g[0]!.meta, shard.meta) === undefined);
    if (group) group.push(shard);
    else groups.push([shard]);
  }
  // Largest first; a stable sort keeps the group of the lowest shard first among equals.
  groups.sort((a, b) => b.length - a.length);
  const [largest, next] = groups;
  if (!largest || !next) return { reference: largest?.[0], mismatch: null };
  const isTie = largest.length === next.length;
  const odd = groups.slice(1);
  if (isTie) {
    const described = odd.map((g) => `${describeGroup(g)} ${g.length > 1 ? 'were' : 'was'} made with ${differences(largest[0]!.meta, g[0]!.meta)!}, unlike ${describeGroup(largest)}`);
    problems.push(`as many shards were made one way as another, so which is current cannot be told: ${described.join('; ')}`);
  } else {
    for (const shard of odd.flat()) problems.push(`${shard.file} was made with ${differences(largest[0]!.meta, shard.meta)!}, unlike ${describeGroup(largest)}`);
  }
  const shards = (isTie ? groups : odd).flat().map((s) => s.index).sort((a, b) => a - b);
  const isOtherModel = odd.some((g) => g[0]!.meta.model.sha256 !== largest[0]!.meta.model.sha256 || g[0]!.meta.model.preprocessingHash !== largest[0]!.meta.model.preprocessingHash);
  return { reference: largest[0], mismatch: { shards, isTie, isOtherModel } };
}

/** One shard's file, or "shards 1, 2, 3 in <store>" (a long list cut short). */
function describeGroup(group: readonly MadeShard[]): string {
  if (group.length === 1) return group[0]!.file;
  return `shards ${indexList(group.map((s) => s.index))} in ${dirname(group[0]!.file)}`;
}

/** "1, 2, 3", or the first ten and how many more. */
function indexList(indexes: readonly number[]): string {
  const shown = indexes.slice(0, 10).join(', ');
  return indexes.length > 10 ? `${shown} and ${indexes.length - 10} more` : shown;
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
        : status.mismatch
          ? recomputeHint(status.mismatch, data, status.dir, status.count!)
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

/**
 * The commands that make mismatched shards agree. graft embed recomputes a shard made from another listing against the
 * dataset as it is now (and leaves one already made from it as it is), but refuses one of another backbone.
 */
function recomputeHint(mismatch: ShardMismatch, data: string, dir: string, count: number): string {
  const [only] = mismatch.shards;
  const shard = mismatch.shards.length === 1 ? `${only}/${count}` : `<i>/${count}`;
  const each = mismatch.shards.length === 1 ? '' : ` for each of shards ${indexList(mismatch.shards)}`;
  const embed = `graft embed ${data} --store ${dir} --shard ${shard}${each}`;
  if (mismatch.isOtherModel) {
    return `delete the shard files made unlike the others${mismatch.isTie ? ' (those of the backbone and preprocessing you do not want)' : ''}, then run ${embed} with the --backbone and options the others were made with`;
  }
  if (mismatch.isTie) return `run ${embed} (with the same --backbone): a shard already made from the dataset as it is now stays as it is, the others are recomputed from it`;
  return `run ${embed} (with the same --backbone) to recompute ${mismatch.shards.length === 1 ? 'it' : 'them'} from the dataset as it is now`;
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
