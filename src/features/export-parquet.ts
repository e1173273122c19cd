import { assertOutsideInputs, assertWritableFile } from '../core/replaceable-output.js';
import { open, rename, rm, stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { removeOrphanedSiblings } from '../core/atomic-write.js';
import { beginSwap, forgetWorkingPath, workingPathFor } from '../core/unfinished-writes.js';
import * as arrow from 'apache-arrow';
import * as parquet from 'parquet-wasm/node';
import type { ProgressListener } from '../core/progress.js';
import { ShardRows, type FeatureBlockWithFiles } from './shard-rows.js';
import { openShardSet } from './shard-set.js';
import { parseShardFileName } from './shard-spec.js';
import type { ShardMeta } from './shard-store.js';

/** Key of the Parquet key-value metadata entry holding the store's meta (backbone, preprocessing, classes). */
export const PARQUET_META_KEY = 'graft';

/** What {@link exportParquet} wrote. */
export interface ParquetExportResult {
  readonly file: string;
  readonly rows: number;
  readonly dim: number;
  readonly rowGroups: number;
  readonly bytes: number;
  readonly seconds: number;
}

/** Rows per Parquet row group: 4096 x 1280 floats is 20 MB, so a reader never needs more than that at once. */
export const PARQUET_ROWS_PER_GROUP = 4096;

/**
 * Writes every vector of a shard store as one Parquet file, one row per image: `path` (relative to the dataset),
 * `label`, `part` ('train', 'val', or 'all' for a dataset without a val folder), `sha256` (of the image file),
 * `model_id` (sha256 of the backbone's weights), `preprocessing_id`, and `vector` (a list of `dim` float32). Spark,
 * DuckDB, pandas and polars read it as is; the store's meta rides along as key-value metadata under `graft`, so
 * {@link importParquet} can rebuild the store.
 *
 * Written with parquet-wasm (the Rust Arrow/Parquet writer in WebAssembly) from Arrow record batches pulled one row group
 * at a time, into a temporary name renamed at the end: memory stays one row group, and a killed export leaves no
 * torn file. Measured at ~16k rows/s for 1280-d rows with flat memory (bench/RESULTS.md).
 *
 * @throws GraftError `INVALID_DATASET` when the store is incomplete or inconsistent (see openShardSet).
 */
export async function exportParquet(storeDir: string, outFile: string, options: { onProgress?: ProgressListener } = {}): Promise<ParquetExportResult> {
  const started = performance.now();
  await assertWritableFile(outFile, 'the Parquet export', '.parquet');
  // Never over a shard of the store being read (an earlier export kept in the folder may be replaced).
  await assertOutsideInputs(outFile, [storeDir], 'the Parquet export', { mayReplace: (path) => parseShardFileName(basename(path)) === undefined });
  const set = openShardSet(storeDir);
  const out = resolve(outFile);
  // What a killed export left beside the output goes first; this one's working file is removed by Ctrl+C's exit.
  await removeOrphanedSiblings(out);
  const temporary = workingPathFor(out, 'tmp');
  let blocks: ReturnType<ShardRows['blocksWithFiles']> | undefined;
  try {
    const rows = new ShardRows(set);
    const opened = (blocks = rows.blocksWithFiles(PARQUET_ROWS_PER_GROUP));
    let groups = 0;
    let written = 0;
    const source = new ReadableStream<parquet.RecordBatch>({
      pull(controller) {
        const next = opened.next();
        if (next.done) {
          controller.close();
          return;
        }
        const table = parquet.Table.fromIPCStream(arrowIpc(set.meta, next.value));
        const batches = table.recordBatches();
        table.free();
        for (const batch of batches) controller.enqueue(batch);
        groups++;
        written += next.value.count;
        options.onProgress?.({ type: 'info', message: `exported ${written} of ${rows.count} rows` });
      },
      cancel() {
        opened.return();
      },
    });
    const properties = new parquet.WriterPropertiesBuilder()
      .setCompression(parquet.Compression.SNAPPY)
      .setMaxRowGroupSize(PARQUET_ROWS_PER_GROUP)
      .setKeyValueMetadata(new Map([[PARQUET_META_KEY, JSON.stringify(set.meta)]]))
      .build();
    const bytes = (await parquet.transformParquetStream(source, properties)).getReader();
    const handle = await open(temporary, 'w');
    try {
      // One chunk at a time with an await each: piping into a Node stream lets the output pile up in memory (measured).
      for (;;) {
        const { done, value } = await bytes.read();
        if (done) break;
        // A write may take fewer bytes than given without failing (a file size limit, a full disk reports only
        // on the next one): write the rest until it is all written or the write fails.
        const chunk = value as Uint8Array;
        for (let offset = 0; offset < chunk.length; ) {
          const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
          if (bytesWritten === 0) throw new Error(`Cannot write ${temporary}: no space left, or the file size limit reached`);
          offset += bytesWritten;
        }
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    const endSwap = beginSwap(temporary);
    try {
      await rename(temporary, out);
    } finally {
      endSwap();
    }
    return { file: out, rows: rows.count, dim: rows.dim, rowGroups: groups, bytes: (await stat(out)).size, seconds: (performance.now() - started) / 1000 };
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  } finally {
    forgetWorkingPath(temporary);
    // A write that failed mid-way left the shards' cursors open: closed first, else closing the store fails ("busy")
    // and hides the write's error (a full disk read as an internal error).
    blocks?.return();
    set.close();
  }
}

/** One block as an Arrow IPC stream: the columns of the export, the vectors as a fixed-size list over the block's floats. */
function arrowIpc(meta: ShardMeta, block: FeatureBlockWithFiles): Uint8Array {
  const { count, files } = block;
  const dim = meta.model.featureDim;
  const utf8 = (values: string[]): arrow.Vector<arrow.Utf8> => arrow.vectorFromArray(values, new arrow.Utf8());
  const partName = (part: number): string => (meta.dataset.layout === 'single' ? 'all' : part === 1 ? 'val' : 'train');
  const vectorType = new arrow.FixedSizeList(dim, new arrow.Field('item', new arrow.Float32(), false));
  const values = arrow.makeData({ type: new arrow.Float32(), length: count * dim, data: block.data.subarray(0, count * dim) });
  const table = new arrow.Table({
    path: utf8(files.map((f) => f.path)),
    label: utf8(Array.from(block.labels.subarray(0, count), (id) => meta.dataset.labels[id]!)),
    part: utf8(files.map((f) => partName(f.part))),
    sha256: utf8(files.map((f) => f.sha256)),
    model_id: utf8(new Array<string>(count).fill(meta.model.sha256)),
    preprocessing_id: utf8(new Array<string>(count).fill(meta.model.preprocessingHash)),
    vector: arrow.makeVector(arrow.makeData({ type: vectorType, length: count, child: values, nullCount: 0 })),
  });
  return arrow.tableToIPC(table, 'stream');
}
