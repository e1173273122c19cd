import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makePreprocessing, preprocessingHash } from '../../src/core/preprocessing.js';
import { GraftError } from '../../src/core/errors.js';
import { featureKey } from '../../src/features/cache-key.js';
import { FEATURE_STORE_FILE, FeatureStore } from '../../src/features/feature-store.js';
import { decodeF32, float16BitsToNumber, float32BitsToFloat16Bits, storedValues } from '../../src/features/vector-encoding.js';

const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);
const PRE = preprocessingHash(makePreprocessing({ inputSize: 224, scale: '-1..1', layout: 'nhwc' }));

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'graft-features-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function randomVector(dim: number, seed: number): Float32Array {
  const v = new Float32Array(dim);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < dim; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = (s / 2 ** 32 - 0.5) * 10 ** ((s % 13) - 6);
  }
  return v;
}

function rawDb(): Database.Database {
  return new Database(path.join(dir, FEATURE_STORE_FILE), { timeout: 10_000 });
}

describe('featureKey', () => {
  const parts = { imageSha256: SHA_A, modelSha256: SHA_B, preprocessingHash: PRE };

  it('is a stable 64-char hex string with view defaulting to 0', () => {
    const key = featureKey(parts);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(featureKey(parts)).toBe(key);
    expect(featureKey({ ...parts, view: 0 })).toBe(key);
    expect(featureKey({ ...parts, imageSha256: SHA_A.toUpperCase() })).toBe(key);
  });

  it('changes when any component changes', () => {
    const base = featureKey(parts);
    const variants = [
      featureKey({ ...parts, imageSha256: `${'a'.repeat(63)}b` }),
      featureKey({ ...parts, modelSha256: `${'b'.repeat(63)}c` }),
      featureKey({ ...parts, preprocessingHash: preprocessingHash(makePreprocessing({ inputSize: 224, scale: 'imagenet', layout: 'nhwc' })) }),
      featureKey({ ...parts, preprocessingHash: preprocessingHash(makePreprocessing({ inputSize: 192, scale: '-1..1', layout: 'nhwc' })) }),
      featureKey({ ...parts, view: 1 }),
      featureKey({ ...parts, view: 2 }),
      // swapping image and model hashes must not collide either
      featureKey({ ...parts, imageSha256: SHA_B, modelSha256: SHA_A }),
    ];
    expect(new Set([base, ...variants]).size).toBe(variants.length + 1);
  });

  it('keeps every key made without a variant unchanged (pinned), and separates variants', () => {
    // Computed by the key scheme as it was before `variant` existed; a change here would orphan every cached vector.
    const pinned = { imageSha256: SHA_A, modelSha256: SHA_B, preprocessingHash: 'ad56f72faf84afb8' };
    expect(PRE).toBe('ad56f72faf84afb8');
    expect(featureKey(pinned)).toBe('0eff0e7e9786c1caaa298448c4a6a52c70c947cf2e08ad7b1c785ca244fb412d');
    expect(featureKey({ ...pinned, view: 3 })).toBe('10091ad32f8b7da6ef3b6b3cfde5f417b37547216c3f866d6e9b4f1ff8ec9f2a');
    expect(featureKey({ ...pinned, view: 3, variant: undefined })).toBe(featureKey({ ...pinned, view: 3 }));
    const keys = [
      featureKey({ ...pinned, view: 3 }),
      featureKey({ ...pinned, view: 3, variant: '0123456789ab-42' }),
      featureKey({ ...pinned, view: 3, variant: '0123456789ab-43' }),
      featureKey({ ...pinned, view: 3, variant: 'ffffffffffff-42' }),
      featureKey({ ...pinned, view: 2, variant: '0123456789ab-42' }),
    ];
    expect(new Set(keys).size).toBe(keys.length);
    expect(featureKey({ ...pinned, view: 3, variant: '0123456789ab-42' })).toBe(keys[1]);
    expect(() => featureKey({ ...pinned, variant: '' })).toThrow(TypeError);
    expect(() => featureKey({ ...pinned, variant: 'a\nb' })).toThrow(/variant/);
    expect(() => featureKey({ ...pinned, variant: 'x'.repeat(257) })).toThrow(TypeError);
    expect(() => featureKey({ ...pinned, variant: 42 as unknown as string })).toThrow(TypeError);
  });

  it('rejects malformed parts', () => {
    expect(() => featureKey({ ...parts, imageSha256: 'abc' })).toThrow(TypeError);
    expect(() => featureKey({ ...parts, modelSha256: `${'g'.repeat(64)}` })).toThrow(/modelSha256/);
    expect(() => featureKey({ ...parts, preprocessingHash: '' })).toThrow(TypeError);
    expect(() => featureKey({ ...parts, view: -1 })).toThrow(RangeError);
    expect(() => featureKey({ ...parts, view: 1.5 })).toThrow(RangeError);
  });
});

describe('FeatureStore', () => {
  it('round-trips exact floats, including special values and unaligned views', () => {
    const store = FeatureStore.open(dir);
    try {
      const special = new Float32Array([0, -0, 1e-45, -3.4028234663852886e38, Number.NaN, Infinity, -Infinity, Math.PI]);
      const backing = new Float32Array(1281);
      backing.set(randomVector(1280, 7), 1);
      const entries = [
        { key: 'k-special', model: SHA_B, data: special },
        { key: 'k-view', model: SHA_B, data: backing.subarray(1) }, // byteOffset 4: a view into a larger buffer
        ...Array.from({ length: 1200 }, (_, i) => ({ key: `k${i}`, model: SHA_B, data: randomVector(64, i + 1) })),
      ];
      store.putMany(entries);
      const got = store.getMany([...entries.map((e) => e.key), 'absent']);
      expect(got.size).toBe(entries.length);
      expect(got.has('absent')).toBe(false);
      // Compared byte for byte (NaN and -0 included); one assertion naming the keys that differ, since 1202 deep
      // toEqual calls on buffers took most of this test's second.
      const bytes = (v: Float32Array): Buffer => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      expect(entries.filter((e) => got.get(e.key)!.byteOffset % 4 !== 0).map((e) => e.key)).toEqual([]);
      expect(entries.filter((e) => !bytes(got.get(e.key)!).equals(bytes(e.data))).map((e) => e.key)).toEqual([]);
      expect(Object.is(got.get('k-special')![1], -0)).toBe(true);
      expect(store.count()).toBe(entries.length);
      expect(store.count(SHA_B)).toBe(entries.length);
      expect(store.count(SHA_A)).toBe(0);
    } finally {
      store.close();
    }
  });

  it('decodeF32 views a blob that owns its memory and copies one that shares it', () => {
    const values = randomVector(16, 3);
    const owned = Buffer.from(new Float32Array(values).buffer); // a buffer of its own, as SQLite's reads return
    const viewed = decodeF32(owned, 16);
    expect(viewed.buffer).toBe(owned.buffer);
    expect([...viewed]).toEqual([...values]);
    // A slice of Node's pool (small Buffer.from copies come from it), at an odd offset: copied, so writing the vector
    // leaves the pool's other bytes alone.
    const pooled = Buffer.concat([Buffer.alloc(1), owned]).subarray(1);
    const copied = decodeF32(pooled, 16);
    expect(copied.buffer).not.toBe(pooled.buffer);
    expect([...copied]).toEqual([...values]);
    copied.fill(0);
    expect(decodeF32(pooled, 16)[0]).toBe(values[0]);
  });

  it('keys are sensitive: another model, preprocessing or view misses', () => {
    const store = FeatureStore.open(dir);
    try {
      const parts = { imageSha256: SHA_A, modelSha256: SHA_B, preprocessingHash: PRE };
      store.putMany([{ key: featureKey(parts), model: SHA_B, data: randomVector(8, 1) }]);
      expect(store.getMany([featureKey(parts)]).size).toBe(1);
      expect(store.getMany([featureKey({ ...parts, view: 1 })]).size).toBe(0);
      expect(store.getMany([featureKey({ ...parts, modelSha256: SHA_A })]).size).toBe(0);
      expect(store.getMany([featureKey({ ...parts, imageSha256: SHA_B })]).size).toBe(0);
      expect(store.getMany([featureKey({ ...parts, preprocessingHash: 'ffffffffffffffff' })]).size).toBe(0);
    } finally {
      store.close();
    }
  });

  it('keeps data after close and reopen; replaces on put; deleteModel and stats', () => {
    const first = FeatureStore.open(dir);
    first.putMany([
      { key: 'x', model: SHA_A, data: new Float32Array([1, 2, 3]) },
      { key: 'y', model: SHA_B, data: new Float32Array([4, 5]) },
    ]);
    first.close();
    first.close(); // idempotent

    const second = FeatureStore.open(dir);
    try {
      expect([...second.getMany(['x', 'y']).entries()].map(([k, v]) => [k, [...v]])).toEqual([
        ['x', [1, 2, 3]],
        ['y', [4, 5]],
      ]);
      second.putMany([{ key: 'x', model: SHA_A, data: new Float32Array([9, 9, 9, 9]) }]);
      expect([...second.getMany(['x']).get('x')!]).toEqual([9, 9, 9, 9]);
      const stats = second.stats();
      expect(stats).toMatchObject({ path: path.join(dir, FEATURE_STORE_FILE), schemaVersion: 1, entries: 2, dataBytes: 24 });
      expect(stats.fileBytes).toBeGreaterThan(0);
      expect(stats.models).toEqual([
        { model: SHA_A, dim: 4, entries: 1 },
        { model: SHA_B, dim: 2, entries: 1 },
      ]);
      expect(second.deleteModel(SHA_A)).toBe(1);
      expect(second.count()).toBe(1);
    } finally {
      second.close();
    }
  });

  it('reports a truncated or inconsistent blob as a miss and removes it', () => {
    FeatureStore.open(dir).close();
    const db = rawDb();
    const insert = db.prepare('INSERT INTO features (key, model, dim, dtype, data, created) VALUES (?, ?, ?, ?, ?, 0)');
    insert.run('truncated', SHA_A, 4, 'f32', Buffer.alloc(15));
    insert.run('too-long', SHA_A, 4, 'f32', Buffer.alloc(20));
    insert.run('zero-dim', SHA_A, 0, 'f32', Buffer.alloc(0));
    insert.run('not-a-blob', SHA_A, 1, 'f32', 'abcd');
    insert.run('future-q8', SHA_A, 2, 'q8', Buffer.alloc(2)); // a dtype only a newer Graft knows
    insert.run('good', SHA_A, 1, 'f32', Buffer.from(new Float32Array([0.5]).buffer));
    db.close();

    const store = FeatureStore.open(dir);
    try {
      const got = store.getMany(['truncated', 'too-long', 'zero-dim', 'not-a-blob', 'future-q8', 'good']);
      expect([...got.keys()]).toEqual(['good']);
      // damaged rows are gone; the q8 row (a newer writer's format) is left alone
      expect(store.count()).toBe(2);
    } finally {
      store.close();
    }
  });

  it('stores f16 at half the size, within 1e-3 relative error, and reads Float32Array', () => {
    const store = FeatureStore.open(dir);
    try {
      // Activation-like values: ReLU6 outputs, signed pre-activations, and a few tiny ones.
      const dim = 7 * 7 * 160;
      const relu6 = randomVector(dim, 3).map((x) => Math.min(6, Math.abs(x) * 3));
      const signed = randomVector(dim, 4).map((x) => Math.sign(x) * Math.min(Math.abs(x) * 40, 60000)); // 1e-6..6e4
      store.putMany([
        { key: 'h-relu6', model: SHA_A, data: relu6, dtype: 'f16' },
        { key: 'h-signed', model: SHA_A, data: signed, dtype: 'f16' },
        { key: 'h-f32', model: SHA_A, data: signed, dtype: 'f32' },
      ]);
      const got = store.getMany(['h-relu6', 'h-signed', 'h-f32']);
      let worst = 0;
      for (const [key, data] of [
        ['h-relu6', relu6],
        ['h-signed', signed],
      ] as const) {
        const read = got.get(key)!;
        expect(read).toBeInstanceOf(Float32Array);
        expect(read.length).toBe(dim);
        expect(Buffer.from(read.buffer).equals(Buffer.from(storedValues(data, 'f16').buffer))).toBe(true);
        for (let i = 0; i < dim; i++) {
          const error = Math.abs(read[i]! - data[i]!);
          // relative 2^-11 in the normal range; below 2^-14 half floats are subnormal, with absolute error <= 2^-25
          if (Math.abs(data[i]!) >= 2 ** -14) worst = Math.max(worst, error / Math.abs(data[i]!));
          else expect(error).toBeLessThanOrEqual(2 ** -25);
        }
      }
      expect(worst).toBeLessThanOrEqual(2 ** -11);
      expect(worst).toBeLessThan(1e-3);
      expect(got.get('h-f32')).toEqual(signed);
      expect(store.stats().dataBytes).toBe(dim * 2 + dim * 2 + dim * 4);
      expect(storedValues(signed, 'f32')).toBe(signed);
    } finally {
      store.close();
    }
  });

  it('f16 keeps special values, and stores an entry beyond half range as f32 rather than as Infinity', () => {
    const store = FeatureStore.open(dir);
    try {
      const special = new Float32Array([0, -0, Infinity, -Infinity, Number.NaN, 65504, -65504, 2 ** -24, 1e-45, 1]);
      const huge = new Float32Array([1, 70000, -3]);
      store.putMany([
        { key: 'special', model: SHA_A, data: special, dtype: 'f16' },
        { key: 'huge', model: SHA_A, data: huge, dtype: 'f16' },
      ]);
      const got = store.getMany(['special', 'huge']);
      expect([...got.get('special')!]).toEqual([0, -0, Infinity, -Infinity, Number.NaN, 65504, -65504, 2 ** -24, 0, 1]);
      expect(Object.is(got.get('special')![1], -0)).toBe(true);
      expect([...got.get('huge')!]).toEqual([1, 70000, -3]);
      expect([...storedValues(huge, 'f16')]).toEqual([1, 70000, -3]);
      expect(store.stats().dataBytes).toBe(special.length * 2 + huge.length * 4);
    } finally {
      store.close();
    }
  });

  it('reports a damaged f16 row as a miss and removes it; rejects an unknown dtype on write', () => {
    FeatureStore.open(dir).close();
    const db = rawDb();
    const insert = db.prepare('INSERT INTO features (key, model, dim, dtype, data, created) VALUES (?, ?, ?, ?, ?, 0)');
    insert.run('f16-short', SHA_A, 4, 'f16', Buffer.alloc(7));
    insert.run('f16-good', SHA_A, 2, 'f16', Buffer.from([0x00, 0x3c, 0x00, 0xc0])); // 1, -2
    db.close();
    const store = FeatureStore.open(dir);
    try {
      const got = store.getMany(['f16-short', 'f16-good']);
      expect([...got.keys()]).toEqual(['f16-good']);
      expect([...got.get('f16-good')!]).toEqual([1, -2]);
      expect(store.count()).toBe(1);
      expect(() => store.putMany([{ key: 'k', model: SHA_A, data: new Float32Array([1]), dtype: 'f8' as 'f16' }])).toThrow(/dtype/);
    } finally {
      store.close();
    }
  });

  it('converts float32 <-> float16 exactly: every half round-trips, and ties round to even', () => {
    const f32 = new Float32Array(1);
    const u32 = new Uint32Array(f32.buffer);
    const toHalf = (x: number): number => {
      f32[0] = x;
      return float32BitsToFloat16Bits(u32[0]!);
    };
    for (let h = 0; h < 0x10000; h++) {
      const value = float16BitsToNumber(h);
      if (Number.isNaN(value)) {
        expect(Number.isNaN(float16BitsToNumber(toHalf(value)))).toBe(true);
        continue;
      }
      if (toHalf(value) !== h) throw new Error(`half ${h.toString(16)} (${value}) came back as ${toHalf(value).toString(16)}`);
    }
    // Between each pair of neighbouring positive halves (subnormals included): the midpoint goes to the even one,
    // and one float32 ulp either side of it goes to the nearer one. The midpoint is exact in float32.
    const below = (x: number): number => {
      f32[0] = x;
      u32[0] = u32[0]! - 1;
      return f32[0]!;
    };
    const above = (x: number): number => {
      f32[0] = x;
      u32[0] = u32[0]! + 1;
      return f32[0]!;
    };
    for (let h = 0; h < 0x7c00; h++) {
      const mid = (float16BitsToNumber(h) + float16BitsToNumber(h + 1)) / 2; // h + 1 = 0x7c00 is Infinity: skipped below
      if (!Number.isFinite(mid)) continue;
      const even = h % 2 === 0 ? h : h + 1;
      if (toHalf(mid) !== even || toHalf(below(mid)) !== h || toHalf(above(mid)) !== h + 1) {
        throw new Error(`rounding near half ${h.toString(16)}: ${toHalf(below(mid))}, ${toHalf(mid)}, ${toHalf(above(mid))}`);
      }
      if (toHalf(-mid) !== (even | 0x8000)) throw new Error(`negative midpoint near ${h.toString(16)}`);
    }
    expect(toHalf(65504)).toBe(0x7bff);
    expect(toHalf(65519.99)).toBe(0x7bff);
    expect(toHalf(65520)).toBe(0x7c00); // the tie above the largest half goes to the even neighbour: Infinity
    expect(toHalf(2 ** -25)).toBe(0); // the tie below the smallest subnormal goes to zero
    expect(toHalf(above(2 ** -25))).toBe(1);
    expect(toHalf(-0)).toBe(0x8000);
    expect(toHalf(1e-45)).toBe(0);
    expect(toHalf(Infinity)).toBe(0x7c00);
    expect(toHalf(-Infinity)).toBe(0xfc00);
  });

  it('rejects bad entries before writing anything', () => {
    const store = FeatureStore.open(dir);
    try {
      const good = { key: 'ok', model: SHA_A, data: new Float32Array([1]) };
      expect(() => store.putMany([good, { key: 'e', model: SHA_A, data: new Float32Array(0) }])).toThrow(TypeError);
      expect(() => store.putMany([good, { key: 'e', model: SHA_A, data: [1] as unknown as Float32Array }])).toThrow(/Float32Array/);
      expect(() => store.putMany([{ ...good, key: '' }])).toThrow(/key/);
      expect(store.count()).toBe(0);
    } finally {
      store.close();
    }
  });

  it('fails with CACHE_ERROR naming the path when the folder cannot be created', () => {
    const file = path.join(dir, 'a-file');
    writeFileSync(file, 'not a folder');
    const target = path.join(file, 'cache');
    let error: unknown;
    try {
      FeatureStore.open(target);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GraftError);
    expect((error as GraftError).code).toBe('CACHE_ERROR');
    expect((error as GraftError).message).toContain(target);
    expect((error as GraftError).hint).toContain('GRAFT_CACHE_DIR');
  });

  it('refuses a store from a newer schema version, and recreates an unversioned one', () => {
    FeatureStore.open(dir).close();
    let db = rawDb();
    db.pragma('user_version = 2');
    db.close();
    expect(() => FeatureStore.open(dir)).toThrow(expect.objectContaining({ code: 'CACHE_ERROR', hint: expect.stringContaining('GRAFT_CACHE_DIR') }));

    db = rawDb();
    db.pragma('user_version = 0');
    db.exec('DROP TABLE features; CREATE TABLE features (key TEXT, vec BLOB)');
    db.close();
    const store = FeatureStore.open(dir);
    try {
      store.putMany([{ key: 'k', model: SHA_A, data: new Float32Array([1]) }]);
      expect(store.count()).toBe(1);
      expect(store.stats().schemaVersion).toBe(1);
    } finally {
      store.close();
    }
  });

  it('fails with CACHE_ERROR when the file is not a database', () => {
    writeFileSync(path.join(dir, FEATURE_STORE_FILE), 'x'.repeat(4096));
    expect(() => FeatureStore.open(dir)).toThrow(expect.objectContaining({ code: 'CACHE_ERROR' }));
  });
});
