import { describe, expect, it } from 'vitest';
import { GraftError } from '../../src/core/errors.js';
import { parseShardFileName, parseShardSpec, shardFileName, shardOf } from '../../src/features/shard-spec.js';

describe('shard specs and assignment', () => {
  it('parses i/n and auto, and rejects anything else with the value received', () => {
    expect(parseShardSpec('2/8')).toEqual({ index: 2, count: 8 });
    expect(parseShardSpec(' 0 / 1 ')).toEqual({ index: 0, count: 1 });
    expect(parseShardSpec('auto', { index: '3', count: '4' })).toEqual({ index: 3, count: 4 });
    for (const bad of ['4/4', '-1/4', '1/0', 'a/b', '1', '1/2/3']) {
      expect(() => parseShardSpec(bad)).toThrow(GraftError);
    }
    expect(() => parseShardSpec('8/4')).toThrow(/\[0, 3\].*Received: 8/);
    expect(() => parseShardSpec('auto', { count: '4' })).toThrow(/JOB_COMPLETION_INDEX/);
    expect(() => parseShardSpec('auto', { index: '1' })).toThrow(/--shard-count/);
    expect(() => parseShardSpec('auto', { index: '4', count: '4' })).toThrow(/JOB_COMPLETION_INDEX=4/);
  });

  it('assigns by a stable hash of the relative path: fixed values, every index used, roughly even', () => {
    // The first 6 bytes of sha256("train/ants/0013035.jpg") (1c2dfcc6...) mod n: part of the store format, so other
    // tools can reproduce the assignment.
    expect(shardOf('train/ants/0013035.jpg', 1)).toBe(0);
    expect(shardOf('train/ants/0013035.jpg', 8)).toBe(5);
    const counts = new Array(8).fill(0);
    for (let i = 0; i < 8000; i++) counts[shardOf(`class-${i % 7}/img-${i}.jpg`, 8)]++;
    for (const n of counts) expect(n).toBeGreaterThan(850);
    for (const n of counts) expect(n).toBeLessThan(1150);
    expect(shardOf('a/b.jpg', 8)).toBe(shardOf('a/b.jpg', 8));
    expect(Number.isInteger(shardOf('a/b.jpg', 3))).toBe(true);
  });

  it('names shard files by index and count, and reads the names back', () => {
    expect(shardFileName({ index: 2, count: 8 })).toBe('shard-00002-of-00008.sqlite');
    expect(shardFileName({ index: 2, count: 8 }, true)).toBe('shard-00002-of-00008.partial.sqlite');
    expect(parseShardFileName('shard-00002-of-00008.partial.sqlite')).toEqual({ index: 2, count: 8, isPartial: true });
    expect(parseShardFileName('.shard-00002-of-00008.sqlite.tmp-1')).toBeUndefined();
  });
});

describe('a damaged shard file', () => {
  it('is named as damaged, with how to rebuild it, for reading and for writing', async () => {
    const { mkdtemp, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { ShardStore } = await import('../../src/features/shard-store.js');
    const dir = await mkdtemp(join(tmpdir(), 'graft-damaged-shard-'));
    const junk = join(dir, shardFileName({ index: 1, count: 3 }));
    await writeFile(junk, 'junk, not SQLite\n');
    for (const open of [() => ShardStore.openForReading(junk), () => ShardStore.openForWriting(junk)]) {
      let error: unknown;
      try {
        open().close();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(GraftError);
      expect((error as GraftError).code).toBe('INVALID_DATASET');
      expect((error as GraftError).message).toContain(`${junk} is damaged`);
      expect((error as GraftError).hint).toMatch(/delete that file and run its graft embed --shard/);
    }
  });
});
