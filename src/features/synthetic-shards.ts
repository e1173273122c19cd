import { rename } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { mulberry32 } from '../core/random.js';
import { shardFileName, shardOf } from './shard-spec.js';
import { SHARD_SCHEMA_VERSION, ShardStore, type ShardMeta, type ShardRow } from './shard-store.js';
import { makeDirectory } from '../core/make-directory.js';

/** Options for {@link writeSyntheticShards}. */
export interface SyntheticShardsOptions {
  /** Rows in the whole store. */
  readonly rows: number;
  /** Shard files to spread them over. Defaults to 4. */
  readonly shards?: number;
  /** Classes (named class-00, class-01, ...). Defaults to 10. */
  readonly classes?: number;
  /** Fraction of rows in the val part (0: a 'single' store split at training). Defaults to 0.1. */
  readonly valFraction?: number;
  /** The backbone the rows pretend to come from: its featureDim is the row width. */
  readonly model: ShardMeta['model'];
  /** Standard deviation of each value around its class mean (before the ReLU): larger overlaps the classes more. Defaults to 0.5. */
  readonly noise?: number;
  /** Seed for the class means and the noise. Defaults to 1. */
  readonly seed?: number;
  /** Called after every 10 000 rows written, for benchmarks' memory curves. */
  readonly onRows?: (written: number) => void;
}

/**
 * Writes a store of synthetic, learnable feature rows (each class a Gaussian around its own mean, ReLU'd like pooled
 * CNN features) as complete shard files, without images or a backbone run: for benchmarks and tests of training and
 * export at sizes no image set here reaches. Rows go to shards by path hash, as `graft embed --shard` assigns images.
 */
export async function writeSyntheticShards(storeDir: string, options: SyntheticShardsOptions): Promise<string[]> {
  const dir = resolve(storeDir);
  await makeDirectory(dir);
  const count = options.shards ?? 4;
  const classes = options.classes ?? 10;
  const valFraction = options.valFraction ?? 0.1;
  const dim = options.model.featureDim;
  const noise = options.noise ?? 0.5;
  const random = mulberry32(options.seed ?? 1);
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const means = Array.from({ length: classes }, () => Float32Array.from({ length: dim }, () => Math.max(0, gauss() * 0.6 + 0.3)));
  const labels = Array.from({ length: classes }, (_, c) => `class-${String(c).padStart(2, '0')}`);
  const stores = Array.from({ length: count }, (_, index) => ShardStore.openForWriting(join(dir, `.${shardFileName({ index, count })}.writing`)));
  const pending: ShardRow[][] = stores.map(() => []);
  const flush = (shard: number): void => {
    stores[shard]!.putRows(pending[shard]!, 1);
    pending[shard] = [];
  };
  for (let i = 0; i < options.rows; i++) {
    const c = i % classes;
    const isVal = random() < valFraction;
    const path = `${isVal ? 'val' : 'train'}/${labels[c]}/${String(i).padStart(8, '0')}.jpg`;
    const vector = new Float32Array(dim);
    const mean = means[c]!;
    for (let j = 0; j < dim; j++) vector[j] = Math.max(0, mean[j]! + gauss() * noise);
    const shard = shardOf(path, count);
    pending[shard]!.push({ path, part: isVal ? 1 : 0, label: labels[c]!, sha256: null, size: 0, mtimeNs: '0', vector, reason: null });
    if (pending[shard]!.length >= 512) flush(shard);
    if ((i + 1) % 10_000 === 0) options.onRows?.(i + 1);
  }
  const files: string[] = [];
  for (let shard = 0; shard < count; shard++) {
    flush(shard);
    const store = stores[shard]!;
    store.writeMeta({
      format: 'graft-feature-shard',
      version: SHARD_SCHEMA_VERSION,
      shard: { index: shard, count },
      model: options.model,
      dataset: { root: dir, layout: valFraction > 0 ? 'split' : 'single', labels, listed: options.rows, listingSha256: `synthetic-${options.rows}-${options.seed ?? 1}${noise === 0.5 ? '' : `-noise-${noise}`}` },
      complete: true,
      ...store.counts(),
      graftVersion: (createRequire(import.meta.url)('../../package.json') as { version: string }).version,
      updated: new Date().toISOString(),
    });
    store.close();
    const file = join(dir, shardFileName({ index: shard, count }));
    await rename(store.file, file);
    files.push(file);
  }
  return files;
}
