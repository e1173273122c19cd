import { describe, expect, it } from 'vitest';
import { arrangeRows, paysToLayOutByFold } from '../../src/learn/select/fold-layout.js';
import { columnSums } from '../../src/learn/select/column-stats.js';

const dim = 3;
/** Row i of a matrix holds i * 10 + d (plain) or -(i * 10 + d) - 1 (mirror), so every row says where it came from. */
const rowsOf = (n: number, mirror: boolean) => Float32Array.from({ length: n * dim }, (_, j) => (mirror ? -1 - (Math.floor(j / dim) * 10 + (j % dim)) : Math.floor(j / dim) * 10 + (j % dim)));
const fold = Int32Array.from([2, 0, 1, 0, 2, 1, 0]);
const n = fold.length;

describe('arrangeRows', () => {
  it("lays rows out fold by fold, each fold's plain rows then their mirror rows, in place when they share a buffer, and puts them back", () => {
    const buffer = new Float32Array(2 * n * dim);
    buffer.set(rowsOf(n, false));
    buffer.set(rowsOf(n, true), n * dim);
    const original = buffer.slice();
    const layout = arrangeRows(fold, 3, { data: buffer.subarray(0, n * dim), count: n, dim }, { data: buffer.subarray(n * dim), count: n, dim }, true);
    expect(layout.movedInPlace).toBe(true);
    expect(layout.rows.data.buffer).toBe(buffer.buffer);
    // Fold 0: images 1, 3, 6; fold 1: 2, 5; fold 2: 0, 4.
    expect(Array.from(layout.image)).toEqual([1, 3, 6, 1, 3, 6, 2, 5, 2, 5, 0, 4, 0, 4]);
    expect(Array.from(layout.mirror)).toEqual([0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1]);
    layout.image.forEach((image, r) => expect(layout.rows.data[r * dim + 1]).toBe(layout.mirror[r] ? -1 - (image * 10 + 1) : image * 10 + 1));
    // Each fold's sums are its own rows'.
    // Fold 1's plain rows are rows 6 and 7.
    const fold1Plain = Float32Array.from({ length: 2 * n }, (_, r) => (r === 6 || r === 7 ? 1 : 0));
    expect(Array.from(layout.sums[1]!.plain.sum)).toEqual(Array.from(columnSums(layout.rows, fold1Plain).sum));
    expect(Array.from(layout.sums[1]!.mirror!.sum)).toEqual([-(20 + 50 + 2), -(21 + 51 + 2), -(22 + 52 + 2)]);
    layout.restore();
    expect(Array.from(buffer)).toEqual(Array.from(original));
    layout.restore();
    expect(Array.from(buffer)).toEqual(Array.from(original));
  });

  it('copies rows that lie apart, leaving the caller’s as they were', () => {
    const plain = rowsOf(n, false);
    const mirrored = rowsOf(n, true);
    const layout = arrangeRows(fold, 3, { data: plain, count: n, dim }, { data: mirrored, count: n, dim }, true);
    expect(layout.movedInPlace).toBe(false);
    expect(Array.from(plain)).toEqual(Array.from(rowsOf(n, false)));
    layout.image.forEach((image, r) => expect(layout.rows.data[r * dim]).toBe(layout.mirror[r] ? -1 - image * 10 : image * 10));
  });

  it('lays out plain rows alone', () => {
    const plain = rowsOf(n, false);
    const layout = arrangeRows(fold, 3, { data: plain, count: n, dim }, undefined, true);
    expect(layout.rows.count).toBe(n);
    expect(Array.from(layout.image)).toEqual([1, 3, 6, 2, 5, 0, 4]);
    expect(layout.sums[0]!.mirror).toBeUndefined();
    layout.restore();
    expect(Array.from(plain)).toEqual(Array.from(rowsOf(n, false)));
  });

  it('in image order, uses rows that share a buffer where they lie, moving nothing, with the same sums', () => {
    const buffer = new Float32Array(2 * n * dim);
    buffer.set(rowsOf(n, false));
    buffer.set(rowsOf(n, true), n * dim);
    const layout = arrangeRows(fold, 3, { data: buffer.subarray(0, n * dim), count: n, dim }, { data: buffer.subarray(n * dim), count: n, dim }, false);
    expect(layout.movedInPlace).toBe(false);
    expect(layout.rows.data.buffer).toBe(buffer.buffer);
    expect(Array.from(layout.image)).toEqual([0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5, 6]);
    expect(Array.from(layout.rows.data)).toEqual(Array.from(buffer));
    // Fold 1 holds images 2 and 5, wherever they lie.
    expect(Array.from(layout.sums[1]!.plain.sum)).toEqual([20 + 50, 21 + 51, 22 + 52]);
    expect(layout.sums[1]!.mirror!.used).toBe(2);
  });
});

describe('paysToLayOutByFold', () => {
  it('lays out by fold where the products left are large (many rows and classes), not for small sets or few classes', () => {
    expect(paysToLayOutByFold(3120, 3, 79, 2560, true)).toBe(true);
    expect(paysToLayOutByFold(3000, 3, 100, 1280, true)).toBe(true);
    expect(paysToLayOutByFold(900, 5, 79, 2560, true)).toBe(false);
    expect(paysToLayOutByFold(1999, 5, 100, 2560, true)).toBe(false);
    expect(paysToLayOutByFold(2000, 3, 12, 2560, true)).toBe(false);
  });
});
