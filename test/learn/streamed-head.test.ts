import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { denseForward } from '../../src/core/dense-layer.js';
import { inMemoryRows } from '../../src/features/feature-rows.js';
import { spillRows } from '../../src/features/spill-rows.js';
import { SoftmaxObjective } from '../../src/learn/linear/softmax-objective.js';
import { columnStats } from '../../src/learn/select/column-stats.js';
import { fitLinearHead } from '../../src/learn/select/fit-linear-head.js';
import { fitLinearHeadStreamed, stratifiedSample } from '../../src/learn/select/fit-linear-head-streamed.js';
import { clusters } from './clusters.js';

const classNames = ['a', 'b', 'c', 'd'];

/** Rows that know their files, as a store's rows do. */
function rowsWithPaths(data: Float32Array, labels: Int32Array, dim: number) {
  const plain = inMemoryRows(data, labels, dim, classNames);
  return {
    ...plain,
    forEachBlock: (visit: Parameters<typeof plain.forEachBlock>[0], rowsPerBlock?: number) =>
      plain.forEachBlock((block) => visit({ ...block, paths: Array.from({ length: block.count }, (_, i) => `${classNames[block.labels[i]!]}/img ${block.start + i}.jpg`) }), rowsPerBlock),
  };
}

describe('rows spilled to a file', () => {
  it('reads back every row, label and file in order, and removes its file on close', () => {
    const { rows, labels } = clusters(1000, 16, 4, 1, 2);
    const spilled = spillRows(rowsWithPaths(rows.data, labels, 16), { rowsPerBlock: 97 });
    try {
      expect(spilled.count).toBe(1000);
      expect(spilled.labels).toEqual(labels);
      expect(spilled.read(0, 1000)).toEqual(rows.data);
      expect(spilled.read(503, 7)).toEqual(rows.data.subarray(503 * 16, 510 * 16));
      expect(spilled.filesOf([0, 2, 999])).toEqual(['a/img 0.jpg', 'c/img 2.jpg', 'd/img 999.jpg']);
      expect(() => spilled.read(995, 10)).toThrow(RangeError);
    } finally {
      spilled.close();
    }
    expect(existsSync(spilled.file)).toBe(false);
    expect(() => spilled.read(0, 1)).toThrow(/closed/);
  });

  it('names the folder it cannot write its copy in, and --work-dir', () => {
    const { rows, labels } = clusters(100, 4, 2, 2, 6);
    let error: unknown;
    try {
      spillRows(inMemoryRows(rows.data, labels, 4, ['a', 'b']), { workDir: '/no/such/folder' }).close();
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringMatching(/^Cannot make a scratch folder in \/no\/such\/folder \(ENOENT/) as unknown });
    expect((error as { hint: string }).hint).toMatch(/--work-dir/);
  });

  it('gives the solver the same objective as the rows in memory, to the bit', async () => {
    const { rows, labels } = clusters(9000, 24, 4, 2, 6);
    const spilled = spillRows(inMemoryRows(rows.data, labels, 24, classNames));
    const weights = new Float32Array(rows.count).fill(1);
    const stats = columnStats(rows, weights);
    expect(columnStats(spilled, weights)).toEqual(stats);
    const inMemory = new SoftmaxObjective(rows, labels, 4);
    const streamed = new SoftmaxObjective(spilled, labels, 4);
    try {
      const point = Float64Array.from({ length: inMemory.size }, (_, i) => Math.sin(i) * 0.1);
      const [a] = await inMemory.evaluate([inMemory.addProblem({ rowWeights: weights, ...stats, c: 0.5 })], [point]);
      const [b] = await streamed.evaluate([streamed.addProblem({ rowWeights: weights, ...stats, c: 0.5 })], [point]);
      expect(b!.f).toBe(a!.f);
      expect(b!.gradient).toEqual(a!.gradient);
    } finally {
      await inMemory.dispose();
      await streamed.dispose();
      spilled.close();
    }
  });
});

describe('fitLinearHeadStreamed', () => {
  it('samples every class in proportion, at least 10 rows each, the same for a seed', () => {
    const labels = Int32Array.from({ length: 10_000 }, (_, i) => (i < 30 ? 3 : i % 3));
    const sample = stratifiedSample(labels, 4, 1000, 7);
    const counts = [0, 0, 0, 0];
    for (const row of sample) counts[labels[row]!]!++;
    expect(counts[3]).toBe(10);
    for (const c of [0, 1, 2]) expect(Math.abs(counts[c]! - 332)).toBeLessThanOrEqual(2);
    expect(sample).toEqual([...sample].sort((x, y) => x - y));
    expect(stratifiedSample(labels, 4, 1000, 7)).toEqual(sample);
    expect(stratifiedSample(labels, 4, 1000, 8)).not.toEqual(sample);
    expect(stratifiedSample(labels, 4, 20_000, 7)).toHaveLength(10_000);
  });

  it('chooses C on a sample, then reaches the optimum on all rows that an in-memory fit with that C reaches', async () => {
    const { rows, labels } = clusters(6000, 20, 4, 3, 9);
    const spilled = spillRows(rowsWithPaths(rows.data, labels, 20));
    const events: string[] = [];
    try {
      const streamed = await fitLinearHeadStreamed(spilled, { c: 'auto', classWeights: 'none', maxFolds: 'auto', seed: 1, selectionRows: 1500, onProgress: (e) => e.type === 'info' && events.push(e.message) });
      expect(streamed.selection?.sample).toEqual({ rows: 1500, of: 6000 });
      expect(streamed.selection?.table.length).toBeGreaterThan(5);
      expect(events[0]).toMatch(/stratified sample of 1500 of 6000 training rows/);
      expect(events.some((m) => /full fit on 6000 rows: pass \d+/.test(m))).toBe(true);
      expect(streamed.fit.status).toBe('converged');

      // The same C fitted in memory on every row, from zeros: the streamed fit, warm-started elsewhere, ends at the same optimum.
      const full = await fitLinearHead(
        { plain: rows, labels, classNames, files: spilled.filesOf(Array.from(labels.keys())) },
        { c: streamed.c, trainViews: 'plain', tta: false, classWeights: 'none', maxFolds: 'auto', crossValidate: false, seed: 1 },
      );
      let agree = 0;
      let maxGap = 0;
      for (let i = 0; i < rows.count; i++) {
        const x = rows.data.subarray(i * 20, (i + 1) * 20);
        const p = denseForward(streamed.layers, x);
        const q = denseForward(full.layers, x);
        if (p.indexOf(Math.max(...p)) === q.indexOf(Math.max(...q))) agree++;
        for (let c = 0; c < 4; c++) maxGap = Math.max(maxGap, Math.abs(p[c]! - q[c]!));
      }
      expect(agree).toBeGreaterThanOrEqual(rows.count - 3);
      expect(maxGap).toBeLessThan(0.02);
    } finally {
      spilled.close();
    }
  });
});
