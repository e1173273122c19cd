import { createHash } from 'node:crypto';
import { GraftError } from '../core/errors.js';

/** Which slice of a dataset one extraction process owns: shard `index` of `count` (0-based). */
export interface ShardSpec {
  readonly index: number;
  readonly count: number;
}

/** The whole dataset in one shard: what `graft embed --store <dir>` writes without `--shard`. */
export const SINGLE_SHARD: ShardSpec = { index: 0, count: 1 };

/** Most shards a store may have: five digits in the file names, and far more pods than any dataset needs. */
export const MAX_SHARDS = 99_999;

/**
 * Parses `i/n` (e.g. `2/8`), or `auto` with the index and count supplied by the caller (the CLI reads
 * `JOB_COMPLETION_INDEX`, which Kubernetes Indexed Jobs set, and `--shard-count` or `GRAFT_SHARD_COUNT`).
 *
 * @throws GraftError `INVALID_CONFIG` naming the value received when it is not `i/n` with 0 <= i < n <= 99999, or
 *   when `auto` lacks an index or a count.
 * @example
 * parseShardSpec('2/8'); // { index: 2, count: 8 }
 * parseShardSpec('auto', { index: '3', count: '4' }); // { index: 3, count: 4 }
 */
export function parseShardSpec(value: string, auto: { readonly index?: string; readonly count?: string } = {}): ShardSpec {
  if (value === 'auto') {
    if (auto.index === undefined || auto.index === '') {
      throw new GraftError('INVALID_CONFIG', '--shard auto needs the shard index in JOB_COMPLETION_INDEX, which is not set.', {
        hint: 'Kubernetes sets JOB_COMPLETION_INDEX in the pods of an Indexed Job (completionMode: Indexed); elsewhere pass --shard <i>/<n>',
      });
    }
    if (auto.count === undefined || auto.count === '') {
      throw new GraftError('INVALID_CONFIG', '--shard auto needs the number of shards: pass --shard-count <n> (the Job\'s completions) or set GRAFT_SHARD_COUNT.', {
        hint: 'e.g. --shard auto --shard-count 4 for a Job with completions: 4',
      });
    }
    return checked(auto.index, auto.count, `--shard auto (JOB_COMPLETION_INDEX=${auto.index}, shard count ${auto.count})`);
  }
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(value);
  if (!match) {
    throw new GraftError('INVALID_CONFIG', `--shard takes <index>/<count> (0-based index) or auto. Received: ${value}`, {
      hint: 'e.g. --shard 0/4 ... --shard 3/4 for four shards, or --shard auto in a Kubernetes Indexed Job',
    });
  }
  return checked(match[1]!, match[2]!, `--shard ${value}`);
}

function checked(indexText: string, countText: string, what: string): ShardSpec {
  const index = Number(indexText);
  const count = Number(countText);
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_SHARDS) {
    throw new GraftError('INVALID_CONFIG', `${what}: the shard count must be an integer in [1, ${MAX_SHARDS}]. Received: ${countText}`);
  }
  if (!Number.isSafeInteger(index) || index < 0 || index >= count) {
    throw new GraftError('INVALID_CONFIG', `${what}: the shard index must be an integer in [0, ${count - 1}] (0-based). Received: ${indexText}`, {
      hint: `shards of ${count} are numbered 0 to ${count - 1}`,
    });
  }
  return { index, count };
}

/**
 * The shard that owns an image, from a stable hash of its path relative to the dataset (forward slashes), so every
 * process computes the same assignment without talking to the others, whatever machine or mount point it runs on.
 * sha256 rather than a fast string hash: it is the same in every language, so another tool can reproduce it.
 */
export function shardOf(relativePath: string, count: number): number {
  if (count === 1) return 0;
  const digest = createHash('sha256').update(relativePath, 'utf8').digest();
  // The first 6 bytes as an integer: uniform enough, and exact in a double.
  return digest.readUIntBE(0, 6) % count;
}

/** `shard-00002-of-00008.sqlite`: sorts by index, and says how many shards make the whole. */
export function shardFileName(spec: ShardSpec, isPartial = false): string {
  const pad = (n: number): string => String(n).padStart(5, '0');
  return `shard-${pad(spec.index)}-of-${pad(spec.count)}${isPartial ? '.partial' : ''}.sqlite`;
}

const SHARD_FILE = /^shard-(\d{5})-of-(\d{5})(\.partial)?\.sqlite$/;

/** The shard and kind of a store file name, or undefined for any other file. */
export function parseShardFileName(name: string): (ShardSpec & { readonly isPartial: boolean }) | undefined {
  const match = SHARD_FILE.exec(name);
  if (!match) return undefined;
  return { index: Number(match[1]), count: Number(match[2]), isPartial: match[3] !== undefined };
}
