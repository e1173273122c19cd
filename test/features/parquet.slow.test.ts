import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { describe, expect, it } from 'vitest';
import { materialiseRows } from '../../src/features/feature-rows.js';
import { ShardRows } from '../../src/features/shard-rows.js';
import { openShardSet } from '../../src/features/shard-set.js';
import { writeSyntheticShards } from '../../src/features/synthetic-shards.js';
import { copySubset, hasShared, hymenoptera, int8Model, parseJsonOutput, repoRoot, runCli, skipReason, tempDir } from '../support.js';

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

      // Import: a store whose rows are the same rows, bit for bit, ready for graft train --store.
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

    // Rewritten elsewhere: a test row, a repeated path, an import over a store, are refused naming the row; a class
    // filtered out entirely is left out of the store (a model must not have a class it never saw).
    const rewrite = async (name: string, edit: (rows: Row[]) => Row[], rowGroupSize?: number): Promise<string> => {
      const out = join(root, `${name}.parquet`);
      await rewriteParquet(file, out, edit, rowGroupSize);
      return out;
    };
    const refusal = async (parquetFile: string, store: string): Promise<string> => {
      const run = await runCli(['features', 'import', parquetFile, '--store', store, '--json'], env);
      expect(run.code).toBe(2);
      return parseJsonOutput<{ error: { message: string } }>(run).error.message;
    };
    expect(await refusal(await rewrite('test-part', (rows) => rows.map((r) => (r.part === 'val' ? { ...r, part: 'test' } : r))), join(root, 'st-test'))).toMatch(/row 25 \(val\/.*\) has part "test"/);
    expect(await refusal(await rewrite('dup', (rows) => [...rows, { ...rows[0]!, label: 'bees' }]), join(root, 'st-dup'))).toMatch(/row 37 .* repeats the path of row 1/);
    // The same across row groups of 10 (the first row is in the store by then, not in the group being read).
    expect(await refusal(await rewrite('dup-groups', (rows) => [...rows, { ...rows[0]!, label: 'bees' }], 10), join(root, 'st-dup-groups'))).toMatch(/row 37 .* repeats the path of row 1/);
    expect(await refusal(file, join(root, 'imported'))).toMatch(/already holds feature shards/);
    const antsOnly = await runCli(['features', 'import', await rewrite('ants', (rows) => rows.filter((r) => r.label === 'ants' || r.part === 'val')), '--store', join(root, 'st-ants'), '--json'], env);
    expect(antsOnly.code, antsOnly.stderr).toBe(0);
    const trimmed = openShardSet(join(root, 'st-ants'));
    try {
      expect(trimmed.meta.dataset.labels).toEqual(['ants', 'bees']);
    } finally {
      trimmed.close();
    }
    const noBees = await runCli(['features', 'import', await rewrite('no-bees', (rows) => rows.filter((r) => r.label === 'ants')), '--store', join(root, 'st-no-bees'), '--json'], env);
    expect(noBees.code, noBees.stderr).toBe(0);
    const beesGone = openShardSet(join(root, 'st-no-bees'));
    try {
      expect(beesGone.meta.dataset.labels).toEqual(['ants']);
    } finally {
      beesGone.close();
    }

    // Not a Graft export: refused with the reason.
    const foreign = await runCli(['features', 'import', join(root, 'store/shard-00000-of-00002.sqlite'), '--store', join(root, 'x'), '--json'], env);
    expect(foreign.code).toBe(2);
    expect(parseJsonOutput<{ error: { message: string } }>(foreign).error.message).toMatch(/Cannot read .* as Parquet/);
    // An incomplete store is not exported.
    const missing = await runCli(['features', 'export', join(root, 'nowhere'), '--out', join(root, 'y.parquet'), '--json'], env);
    expect(missing.code).toBe(2);
  });

  it('a store of an unsplit dataset (its rows exported as part "all") imports back; an --out that cannot be written is refused first', async () => {
    const root = await tempDir('graft-parquet-single-');
    const store = join(root, 'store');
    const model = { name: 'synthetic', source: 'synthetic', sha256: 'b'.repeat(64), featureDim: 8, preprocessing: { inputSize: 224, resize: 'center-crop', interpolation: 'bilinear', scale: 'imagenet', mean: [0, 0, 0], std: [1, 1, 1], layout: 'nchw', channels: 'rgb' } as never, preprocessingHash: '0123456789abcdef' };
    await writeSyntheticShards(store, { rows: 60, shards: 2, classes: 3, valFraction: 0, model });
    const file = join(root, 'single.parquet');
    // What an export killed with -9 left (its process gone): the next export to the same --out removes it.
    const leftover = `${file}.tmp-4194000-0badf00d`;
    writeFileSync(leftover, 'cut');
    const exported = await runCli(['features', 'export', store, '--out', file, '--json']);
    expect(exported.code, exported.stderr).toBe(0);
    expect(existsSync(leftover)).toBe(false);
    const imported = await runCli(['features', 'import', file, '--store', join(root, 'back'), '--json']);
    expect(imported.code, imported.stderr).toBe(0);
    const back = openShardSet(join(root, 'back'));
    try {
      expect(back.meta.dataset.layout).toBe('single');
      const [before, after] = [openShardSet(store), back].map((set) => materialiseRows(new ShardRows(set)));
      expect(Buffer.from(after!.data.buffer).equals(Buffer.from(before!.data.buffer))).toBe(true);
    } finally {
      back.close();
    }
    // A write cut short by a file size limit (the disk full) fails the export and leaves the earlier file as it was;
    // the short write was taken as done, and a cut file was renamed over a good one with exit 0.
    const good = readFileSync(file);
    const limited = spawnSync('bash', ['-c', `ulimit -f 1; exec "${process.execPath}" "${join(repoRoot, 'bin/graft.js')}" features export "${store}" --out "${file}" --json`], { encoding: 'utf8' });
    expect(good.length).toBeGreaterThan(1024);
    expect(limited.status, limited.stdout + limited.stderr).not.toBe(0);
    expect(readFileSync(file).equals(good)).toBe(true);
    expect(readdirSync(root).filter((name) => name.includes('.tmp'))).toEqual([]);
    // Over a shard of the store it reads: refused (the export replaced it, and the store lost a shard).
    const shard = join(store, readdirSync(store).find((name) => name.startsWith('shard-'))!);
    const shardBytes = readFileSync(shard);
    for (const [out, message] of [[root, /is a folder; the Parquet export is one file/], [join(root, 'no-such-folder', 'x.parquet'), /the folder .*no-such-folder does not exist/], [shard, /is a file of .*store, which this run reads/]] as const) {
      const run = await runCli(['features', 'export', store, '--out', out, '--json']);
      expect(run.code).toBe(2);
      expect(parseJsonOutput<{ error: { message: string } }>(run).error.message).toMatch(message);
    }
    expect(readFileSync(shard).equals(shardBytes)).toBe(true);
    // An import into a --store that is a file: a usage error (it was exit 4, "EEXIST … mkdir").
    const notFolder = join(root, 'not-a-folder');
    writeFileSync(notFolder, 'x');
    const intoFile = await runCli(['features', 'import', file, '--store', notFolder, '--json']);
    expect(intoFile.code).toBe(2);
    expect(parseJsonOutput<{ error: { message: string } }>(intoFile).error.message).toBe(`Cannot write ${join(notFolder, 'shard')}: ${notFolder} is a file, not a folder`);
  });
});

/** Rewrites a Graft Parquet export with `edit` applied to its rows, keeping its metadata (what another tool would do). */
async function rewriteParquet(from: string, to: string, edit: (rows: Row[]) => Row[], rowGroupSize?: number): Promise<void> {
  const arrow = await import('apache-arrow');
  const parquet = await import('parquet-wasm/node');
  const { openAsBlob } = await import('node:fs');
  const { writeFile } = await import('node:fs/promises');
  const file = await parquet.ParquetFile.fromFile(await openAsBlob(from));
  const meta = file.metadata().fileMetadata().keyValueMetadata().get('graft') as string;
  const table = arrow.tableFromIPC((await file.read()).intoIPCStream());
  const dim = (JSON.parse(meta) as { model: { featureDim: number } }).model.featureDim;
  const text = (name: string, i: number): string => table.getChild(name)!.get(i) as string;
  const read: Row[] = Array.from({ length: table.numRows }, (_, i) => ({
    path: text('path', i), label: text('label', i), part: text('part', i), sha256: text('sha256', i), model_id: text('model_id', i), preprocessing_id: text('preprocessing_id', i),
    vector: Array.from((table.getChild('vector')!.get(i) as { toArray(): Float32Array }).toArray()),
  }));
  const rows = edit(read);
  const utf8 = (values: string[]) => arrow.vectorFromArray(values, new arrow.Utf8());
  const data = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => data.set(r.vector, i * dim));
  const listType = new arrow.FixedSizeList(dim, new arrow.Field('item', new arrow.Float32(), false));
  const values = arrow.makeData({ type: new arrow.Float32(), length: rows.length * dim, data });
  const out = new arrow.Table({
    path: utf8(rows.map((r) => r.path)), label: utf8(rows.map((r) => r.label)), part: utf8(rows.map((r) => r.part)), sha256: utf8(rows.map((r) => r.sha256)),
    model_id: utf8(rows.map((r) => r.model_id)), preprocessing_id: utf8(rows.map((r) => r.preprocessing_id)),
    vector: arrow.makeVector(arrow.makeData({ type: listType, length: rows.length, child: values, nullCount: 0 })),
  });
  const builder = new parquet.WriterPropertiesBuilder().setKeyValueMetadata(new Map([['graft', meta]]));
  const properties = (rowGroupSize === undefined ? builder : builder.setMaxRowGroupSize(rowGroupSize)).build();
  await writeFile(to, parquet.writeParquet(parquet.Table.fromIPCStream(arrow.tableToIPC(out, 'stream')), properties));
}
