import { existsSync, openAsBlob, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as arrow from 'apache-arrow';
import * as parquet from 'parquet-wasm/node';
import { GraftError } from '../core/errors.js';
import { assertCanCreate } from '../core/replaceable-output.js';
import type { ProgressListener } from '../core/progress.js';
import { PARQUET_META_KEY } from './export-parquet.js';
import { publishFile } from './publish-file.js';
import { parseShardFileName, SINGLE_SHARD, shardFileName } from './shard-spec.js';
import { SHARD_SCHEMA_VERSION, ShardStore, type ShardMeta, type ShardRow } from './shard-store.js';
import { makeWorkDir, removeWorkDir } from './work-dir.js';
import { makeDirectory } from '../core/make-directory.js';

/** What {@link importParquet} wrote. */
export interface ParquetImportResult {
  /** The store file written (shard 0 of 1). */
  readonly file: string;
  readonly rows: number;
  readonly dim: number;
  readonly seconds: number;
}

const REQUIRED_COLUMNS = ['path', 'label', 'part', 'sha256', 'model_id', 'preprocessing_id', 'vector'] as const;

/**
 * Reads a Parquet file written by {@link exportParquet} back into a store folder, as one shard (`shard-00000-of-00001`),
 * so `graft train --store` can use it: e.g. after filtering or relabelling the export in DuckDB or Spark (keep the
 * columns and the `graft` key-value metadata; rows whose label is not one of the metadata's classes are refused).
 * Row groups are read one at a time, and the store is written locally and published atomically like any shard.
 *
 * @throws GraftError `INVALID_DATASET` naming the file when it is not a Graft export (no `graft` metadata, a missing
 *   column, a vector of the wrong length, a row made with another model or preprocessing); `INVALID_CONFIG` when the
 *   store folder already holds shards.
 */
export async function importParquet(file: string, storeDir: string, options: { onProgress?: ProgressListener; workDir?: string } = {}): Promise<ParquetImportResult> {
  const started = performance.now();
  const source = resolve(file);
  if (!existsSync(source)) throw new GraftError('INVALID_DATASET', `File not found: ${source}`, { hint: 'pass the Parquet file graft features export wrote' });
  let reader: parquet.ParquetFile;
  try {
    reader = await parquet.ParquetFile.fromFile(await openAsBlob(source));
  } catch (cause) {
    throw new GraftError('INVALID_DATASET', `Cannot read ${source} as Parquet: ${cause instanceof Error ? cause.message : String(cause)}`, { hint: 'pass a file written by graft features export', cause });
  }
  const metaText = reader.metadata().fileMetadata().keyValueMetadata().get(PARQUET_META_KEY) as string | undefined;
  if (!metaText) {
    throw new GraftError('INVALID_DATASET', `${source} has no "${PARQUET_META_KEY}" key-value metadata, so Graft cannot tell which backbone and preprocessing made its vectors.`, {
      hint: 'import files written by graft features export; when rewriting one in another tool, keep its key-value metadata',
    });
  }
  const exported = JSON.parse(metaText) as ShardMeta;
  const dim = exported.model.featureDim;
  const labels = new Set(exported.dataset.labels);
  const dir = resolve(storeDir);
  // A file named as the store (or on its way) is said before mkdir fails with EEXIST.
  await assertCanCreate(join(dir, 'shard'), '--store');
  await makeDirectory(dir);
  const others = readdirSync(dir).filter((name) => parseShardFileName(name) !== undefined);
  if (others.length > 0) {
    throw new GraftError('INVALID_CONFIG', `${dir} already holds feature shards (${others.slice(0, 3).join(', ')}${others.length > 3 ? ', ...' : ''}); an import writes a store of its own.`, {
      hint: 'import into a new, empty folder',
    });
  }
  const rowsPerLabel = new Map<string, number>();
  const workDir = makeWorkDir(options.workDir, 'graft-import-', 'the local copy of the store being written');
  const local = join(workDir, shardFileName(SINGLE_SHARD));
  const store = ShardStore.openForWriting(local);
  let rows = 0;
  try {
    const groups = reader.metadata().numRowGroups();
    for (let group = 0; group < groups; group++) {
      const wasmTable = await reader.read({ rowGroups: [group] });
      const table = arrow.tableFromIPC(wasmTable.intoIPCStream());
      for (const name of REQUIRED_COLUMNS) {
        if (!table.getChild(name)) throw new GraftError('INVALID_DATASET', `${source} has no column "${name}"; a Graft export has ${REQUIRED_COLUMNS.join(', ')}.`);
      }
      const column = (name: string): unknown[] => table.getChild(name)!.toArray() as unknown[];
      const [paths, labelValues, parts, hashes, models, preprocessings] = ['path', 'label', 'part', 'sha256', 'model_id', 'preprocessing_id'].map(column) as string[][];
      const vectors = vectorsOf(table.getChild('vector')!, table.numRows, dim, source);
      const batch: ShardRow[] = [];
      // Paths of this row group; earlier groups' are in the store (memory stays that of one group, whatever the rows).
      const inGroup = new Map<string, number>();
      for (let i = 0; i < table.numRows; i++) {
        const where = `${source}, row ${rows + i + 1} (${paths![i]})`;
        if (models![i] !== exported.model.sha256 || preprocessings![i] !== exported.model.preprocessingHash) {
          throw new GraftError('INVALID_DATASET', `${where} was made with model ${models![i]} / preprocessing ${preprocessings![i]}, not the file's ${exported.model.sha256} / ${exported.model.preprocessingHash}.`, {
            hint: 'rows from different backbones cannot be trained together: export and import each store separately',
          });
        }
        if (!labels.has(labelValues![i]!)) {
          throw new GraftError('INVALID_DATASET', `${where} has label "${labelValues![i]}", not one of the file's classes (${[...labels].join(', ')}).`, {
            hint: `to add a class, edit the "${PARQUET_META_KEY}" metadata's dataset.labels too`,
          });
        }
        // A store has a train part and a val part; a test row imported as train would be trained on. A store of a
        // dataset without a split (layout "single") exports its rows as "all": they are its training rows.
        const isAll = parts![i] === 'all' && exported.dataset.layout === 'single';
        if (parts![i] !== 'train' && parts![i] !== 'val' && !isAll) {
          throw new GraftError('INVALID_DATASET', `${where} has part "${parts![i]}"; a feature store holds "train" and "val" rows only${exported.dataset.layout === 'single' ? ' (or "all", as its export wrote them)' : ''}.`, {
            hint: 'drop the other rows (test rows stay out of training), or set their part to train or val',
          });
        }
        const first = inGroup.get(paths![i]!) ?? store.rowNumber(paths![i]!);
        if (first !== undefined) {
          throw new GraftError('INVALID_DATASET', `${where} repeats the path of row ${first}; each image is one row.`, { hint: 'keep one row per path (with its right label)' });
        }
        inGroup.set(paths![i]!, rows + i + 1);
        rowsPerLabel.set(labelValues![i]!, (rowsPerLabel.get(labelValues![i]!) ?? 0) + 1);
        batch.push({ path: paths![i]!, part: parts![i] === 'val' ? 1 : 0, label: labelValues![i]!, sha256: hashes![i] ?? null, size: -1, mtimeNs: '', vector: vectors.subarray(i * dim, (i + 1) * dim), reason: null });
      }
      store.putRows(batch, 1);
      rows += table.numRows;
      options.onProgress?.({ type: 'info', message: `imported ${rows} rows` });
    }
    // Classes whose rows were all filtered out elsewhere are left out: a model must not have a class it never saw.
    const kept = exported.dataset.labels.filter((label) => rowsPerLabel.has(label));
    const dropped = exported.dataset.labels.filter((label) => !rowsPerLabel.has(label));
    if (dropped.length > 0) options.onProgress?.({ type: 'info', message: `no rows of ${dropped.map((l) => `"${l}"`).join(', ')}: ${dropped.length === 1 ? 'that class is' : 'those classes are'} left out of the store` });
    const meta: ShardMeta = {
      ...exported,
      format: 'graft-feature-shard',
      version: SHARD_SCHEMA_VERSION,
      shard: SINGLE_SHARD,
      dataset: { ...exported.dataset, labels: kept, listed: rows, listingSha256: `parquet:${exported.dataset.listingSha256}:${rows}` },
      complete: true,
      ...store.counts(),
      updated: new Date().toISOString(),
    };
    store.writeMeta(meta);
    store.close();
    const target = join(dir, shardFileName(SINGLE_SHARD));
    await publishFile(local, target);
    return { file: target, rows, dim, seconds: (performance.now() - started) / 1000 };
  } finally {
    store.close();
    reader.free();
    removeWorkDir(workDir);
  }
}

/** The vector column's floats as one row-major array (a fixed-size list, or a list whose entries all have `dim` values). */
function vectorsOf(column: arrow.Vector, count: number, dim: number, source: string): Float32Array {
  const out = new Float32Array(count * dim);
  let row = 0;
  for (const data of column.data) {
    const child = data.children[0];
    if (!child || !(child.values instanceof Float32Array)) {
      throw new GraftError('INVALID_DATASET', `${source}: the vector column must be a list of float32. Received: ${String(column.type)}`);
    }
    for (let i = 0; i < data.length; i++, row++) {
      const from = arrow.DataType.isFixedSizeList(data.type) ? (data.offset + i) * dim : data.valueOffsets[data.offset + i]!;
      const to = arrow.DataType.isFixedSizeList(data.type) ? from + dim : data.valueOffsets[data.offset + i + 1]!;
      if (to - from !== dim) throw new GraftError('INVALID_DATASET', `${source}: row ${row + 1} has a vector of ${to - from} floats, not ${dim}.`);
      out.set(child.values.subarray(child.offset + from, child.offset + to), row * dim);
    }
  }
  return out;
}
