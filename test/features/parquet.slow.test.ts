import { join } from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { describe, expect, it } from 'vitest';
import { materialiseRows } from '../../src/features/feature-rows.js';
import { ShardRows } from '../../src/features/shard-rows.js';
import { openShardSet } from '../../src/features/shard-set.js';
import { copySubset, hasShared, hymenoptera, int8Model, parseJsonOutput, runCli, skipReason, tempDir } from '../support.js';

interface Row {
  path: string;
  label: string;
  part: string;
  sha256: string;
  model_id: string;
  preprocessing_id: string;
  vector: number[];
}

describe.skipIf(!hasShared)('graft features export/import (Parquet)', () => {
  skipReason('the Parquet export tests');

  it('exports real features that an independent reader (hyparquet) reads back exactly, and imports them back unchanged', async () => {
    const root = await tempDir('graft-parquet-');
    const env = { GRAFT_CACHE_DIR: join(root, 'cache') };
    const data = join(root, 'data');
    await copySubset(join(hymenoptera, 'train'), join(data, 'train'), 12);
    await copySubset(join(hymenoptera, 'val'), join(data, 'val'), 6);
    const store = join(root, 'store');
    for (const shard of ['0/2', '1/2']) {
      const run = await runCli(['embed', data, '--store', store, '--shard', shard, '--backbone', int8Model, '--json'], env);
      expect(run.code, run.stderr).toBe(0);
    }
    const file = join(root, 'features.parquet');
    const exported = parseJsonOutput<{ file: string; rows: number; dim: number }>(await runCli(['features', 'export', store, '--format', 'parquet', '--out', file, '--json'], env));
    // Two scales by default (the features graft train reads): 2 x 1280.
    expect(exported).toMatchObject({ file, rows: 36, dim: 2560 });

    const set = openShardSet(store);
    try {
      const rows = new ShardRows(set);
      const expected = materialiseRows(rows);
      const files: { path: string; sha256: string }[] = [];
      rows.forEachFile((f) => files.push(f));

      // The second reader: hyparquet, a pure-JS implementation that shares no code with the writer (parquet-wasm/arrow-rs).
      const buffer = await asyncBufferFromFile(file);
      const metadata = await parquetMetadataAsync(buffer);
      const graftMeta = metadata.key_value_metadata?.find((kv) => kv.key === 'graft');
      expect(JSON.parse(graftMeta!.value!).model.sha256).toBe(set.meta.model.sha256);
      const read = (await parquetReadObjects({ file: buffer })) as unknown as Row[];
      expect(read.length).toBe(36);
      read.forEach((row, i) => {
        expect(row.path).toBe(files[i]!.path);
        expect(row.sha256).toBe(files[i]!.sha256);
        expect(row.label).toBe(rows.labels[expected.labels[i]!]);
        expect(row.part).toBe(row.path.startsWith('val/') ? 'val' : 'train');
        expect(row.model_id).toBe(set.meta.model.sha256);
        expect(row.preprocessing_id).toBe(set.meta.model.preprocessingHash);
        expect(Float32Array.from(row.vector)).toEqual(expected.data.subarray(i * 2560, (i + 1) * 2560));
      });

      // Import: a store whose rows are the same rows, bit for bit, ready for graft train --features.
      const back = join(root, 'imported');
      const imported = parseJsonOutput<{ rows: number }>(await runCli(['features', 'import', file, '--store', back, '--json'], env));
      expect(imported.rows).toBe(36);
      const again = openShardSet(back);
      try {
        const copy = materialiseRows(new ShardRows(again));
        expect(Buffer.from(copy.data.buffer).equals(Buffer.from(expected.data.buffer))).toBe(true);
        expect(copy.labels).toEqual(expected.labels);
        expect(again.meta.dataset.layout).toBe('split');
      } finally {
        again.close();
      }
    } finally {
      set.close();
    }

    // Not a Graft export: refused with the reason.
    const foreign = await runCli(['features', 'import', join(root, 'store/shard-00000-of-00002.sqlite'), '--store', join(root, 'x'), '--json'], env);
    expect(foreign.code).toBe(2);
    expect(parseJsonOutput<{ error: { message: string } }>(foreign).error.message).toMatch(/Cannot read .* as Parquet/);
    // An incomplete store is not exported.
    const missing = await runCli(['features', 'export', join(root, 'nowhere'), '--out', join(root, 'y.parquet'), '--json'], env);
    expect(missing.code).toBe(2);
  });
});
