import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/core/random.js';
import { Lbfgs } from '../../src/learn/linear/lbfgs.js';
import { minimizeSoftmax } from '../../src/learn/linear/minimize.js';
import { SoftmaxObjective } from '../../src/learn/linear/softmax-objective.js';
import { VectorArena } from '../../src/learn/linear/vector-space.js';
import { columnStats } from '../../src/learn/select/column-stats.js';
import type { FeatureMatrix } from '../../src/learn/train-head.js';
import { clusters } from './clusters.js';

/**
 * The objective in float64 JS, written independently of the onnxruntime graph: standardise, softmax, weighted mean
 * cross-entropy plus 1/(2 C S) |W|^2, and its gradient.
 */
function reference(rows: FeatureMatrix, labels: Int32Array, k: number, weights: Float32Array, stats: { mean: Float32Array; std: Float32Array }, c: number, point: Float64Array) {
  const { count, dim, data } = rows;
  const s = weights.reduce((a, b) => a + b, 0);
  const grad = new Float64Array(point.length);
  let f = 0;
  for (let i = 0; i < count; i++) {
    const w = weights[i]!;
    if (w === 0) continue;
    const x = Array.from({ length: dim }, (_, d) => (data[i * dim + d]! - stats.mean[d]!) / stats.std[d]!);
    const z = Array.from({ length: k }, (_, j) => x.reduce((acc, xd, d) => acc + xd * point[d * k + j]!, point[dim * k + j]!));
    const max = Math.max(...z);
    const e = z.map((v) => Math.exp(v - max));
    const total = e.reduce((a, b) => a + b, 0);
    f -= (w * Math.log(e[labels[i]!]! / total)) / s;
    for (let j = 0; j < k; j++) {
      const g = (w * (e[j]! / total - (j === labels[i] ? 1 : 0))) / s;
      for (let d = 0; d < dim; d++) grad[d * k + j]! += g * x[d]!;
      grad[dim * k + j]! += g;
    }
  }
  for (let p = 0; p < dim * k; p++) {
    f += (point[p]! * point[p]!) / (2 * c * s);
    grad[p]! += point[p]! / (c * s);
  }
  return { f, grad };
}

describe('SoftmaxObjective', () => {
  // One block of rows, two and five: each problem's G' x comes in one part, two (read where they lie) or more (summed).
  it.each([4096, 50, 20])('gives the value and gradient of an independent float64 implementation, for several problems in one pass (blocks of %i rows)', async (blockRows) => {
    const { rows, labels } = clusters(90, 12, 3, 1, 3);
    const random = mulberry32(5);
    const objective = new SoftmaxObjective(rows, labels, 3, { blockRows });
    try {
      const setups = [0, 1].map((fold) => {
        const weights = Float32Array.from({ length: rows.count }, (_, i) => (i % 3 === fold ? 0 : 1 + (i % 2)));
        const stats = columnStats(rows, weights);
        return { weights, stats, c: fold === 0 ? 0.1 : 3, index: objective.addProblem({ rowWeights: weights, ...stats, c: fold === 0 ? 0.1 : 3 }) };
      });
      const points = setups.map(() => Float64Array.from({ length: objective.size }, () => (random() - 0.5) * 0.4));
      const results = await objective.evaluate(
        setups.map((s) => s.index),
        points,
      );
      setups.forEach((setup, j) => {
        const expected = reference(rows, labels, 3, setup.weights, setup.stats, setup.c, points[j]!);
        expect(results[j]!.f).toBeCloseTo(expected.f, 5);
        for (let p = 0; p < expected.grad.length; p++) expect(Math.abs(results[j]!.gradient[p]! - expected.grad[p]!)).toBeLessThan(1e-5);
      });
    } finally {
      await objective.dispose();
    }
  });
});

describe('SoftmaxObjective.predict', () => {
  it("at the points last evaluated gives that pass's probabilities, rows in several blocks, as a fresh pass does", async () => {
    const { rows, labels } = clusters(130, 8, 3, 6, 2);
    const objective = new SoftmaxObjective(rows, labels, 3, { blockRows: 50 });
    try {
      const random = mulberry32(11);
      const which = [0.3, 2].map((c) => {
        const weights = Float32Array.from({ length: rows.count }, () => 0.5 + random());
        return objective.addProblem({ rowWeights: weights, ...columnStats(rows, weights), c });
      });
      const points = which.map(() => Float64Array.from({ length: objective.size }, () => (random() - 0.5) * 0.6));
      await objective.evaluate(which, points);
      expect(objective.passes).toBe(3);
      const collect = async (order: number[], at: Float64Array[]): Promise<Float32Array> => {
        const out = new Float32Array(rows.count * order.length * 3);
        await objective.predict(order.map((j) => which[j]!), at, (start, count, p) => out.set(p.subarray(0, count * order.length * 3), start * order.length * 3));
        return out;
      };
      // Asked in the other order: each problem's column is found where it was in the pass.
      const kept = await collect([1, 0], [points[1]!, points[0]!]);
      expect(objective.passes).toBe(3);
      const fresh = await collect([1, 0], [Float64Array.from(points[1]!), Float64Array.from(points[0]!)]);
      expect(objective.passes).toBe(6);
      for (let i = 0; i < kept.length; i++) expect(Math.abs(kept[i]! - fresh[i]!)).toBeLessThan(1e-6);
      expect(new Set(kept).size).toBeGreaterThan(100);
    } finally {
      await objective.dispose();
    }
  });

  it('skips the rows past the last one a problem weighs, and predicts them in a pass of their own', async () => {
    // As a 'plain' candidate of a cross-validation weighs none of the mirror rows that follow the plain ones.
    const { rows, labels } = clusters(130, 8, 3, 6, 2);
    const objective = new SoftmaxObjective(rows, labels, 3, { blockRows: 50 });
    try {
      const random = mulberry32(12);
      const weights = Float32Array.from({ length: rows.count }, (_, i) => (i < 70 && i % 5 !== 2 ? 1 : 0));
      const stats = columnStats(rows, weights);
      const [problem] = [objective.addProblem({ rowWeights: weights, ...stats, c: 0.5 })];
      const point = Float64Array.from({ length: objective.size }, () => (random() - 0.5) * 0.6);
      const [result] = await objective.evaluate([problem!], [point]);
      // Rows 0-69 only: two blocks of 50 rows, not three.
      expect(objective.passes).toBe(2);
      const expected = reference(rows, labels, 3, weights, stats, 0.5, point);
      expect(result!.f).toBeCloseTo(expected.f, 5);
      for (let p = 0; p < expected.grad.length; p++) expect(Math.abs(result!.gradient[p]! - expected.grad[p]!)).toBeLessThan(1e-5);
      const collect = async (at: Float64Array): Promise<{ starts: number[]; out: Float32Array }> => {
        const out = new Float32Array(rows.count * 3).fill(Number.NaN);
        const starts: number[] = [];
        await objective.predict([problem!], [at], (start, count, p) => {
          starts.push(start);
          out.set(p.subarray(0, count * 3), start * 3);
        });
        return { starts, out };
      };
      const kept = await collect(point);
      // Rows 0-69 from the evaluation's pass (its two blocks), rows 70-129 in a new one (two blocks).
      expect(kept.starts).toEqual([0, 50, 70, 120]);
      expect(objective.passes).toBe(4);
      const fresh = await collect(Float64Array.from(point));
      for (let i = 0; i < kept.out.length; i++) expect(Math.abs(kept.out[i]! - fresh.out[i]!)).toBeLessThan(1e-6);
    } finally {
      await objective.dispose();
    }
  });
});

describe('SoftmaxObjective over folds laid out together', () => {
  it("multiplies each fold's rows only by the problems that weigh them, and predicts a problem's own fold in a pass of its own", async () => {
    // Three folds of 300 rows; the problem of fold f weighs every row but fold f's.
    const { rows, labels } = clusters(900, 6, 3, 7, 3);
    const objective = new SoftmaxObjective(rows, labels, 3);
    try {
      const random = mulberry32(13);
      const setups = [0, 1, 2].map((f) => {
        const weights = Float32Array.from({ length: rows.count }, (_, i) => (Math.floor(i / 300) === f ? 0 : 1 + (i % 3)));
        const stats = columnStats(rows, weights);
        return { weights, stats, c: 0.2 + f, index: objective.addProblem({ rowWeights: weights, ...stats, c: 0.2 + f }) };
      });
      const which = setups.map((s) => s.index);
      const points = setups.map(() => Float64Array.from({ length: objective.size }, () => (random() - 0.5) * 0.5));
      const results = await objective.evaluate(which, points);
      // One product per fold, each with the two problems that weigh it.
      expect(objective.passes).toBe(3);
      setups.forEach((setup, j) => {
        const expected = reference(rows, labels, 3, setup.weights, setup.stats, setup.c, points[j]!);
        expect(results[j]!.f).toBeCloseTo(expected.f, 5);
        for (let p = 0; p < expected.grad.length; p++) expect(Math.abs(results[j]!.gradient[p]! - expected.grad[p]!)).toBeLessThan(1e-5);
      });
      const collect = async (at: Float64Array[]): Promise<Float32Array> => {
        const out = new Float32Array(rows.count * 3 * 3).fill(Number.NaN);
        await objective.predict(which, at, (start, count, p) => out.set(p.subarray(0, count * 9), start * 9));
        return out;
      };
      const kept = await collect(points);
      // Each problem's own fold (its held-out rows) in one pass of that problem alone.
      expect(objective.passes).toBe(6);
      const fresh = await collect(points.map((p) => Float64Array.from(p)));
      expect(objective.passes).toBe(7);
      expect(kept.some(Number.isNaN)).toBe(false);
      for (let i = 0; i < kept.length; i++) expect(Math.abs(kept[i]! - fresh[i]!)).toBeLessThan(1e-6);
    } finally {
      await objective.dispose();
    }
  });

  it('does not split off the few rows where problems start or end apart (image order: each fold holds out other rows)', async () => {
    const { rows, labels } = clusters(900, 6, 3, 9, 3);
    const objective = new SoftmaxObjective(rows, labels, 3);
    try {
      const setups = [0, 1, 2].map((f) => {
        const weights = Float32Array.from({ length: rows.count }, (_, i) => (i % 3 === f ? 0 : 1));
        const stats = columnStats(rows, weights);
        return { weights, stats, index: objective.addProblem({ rowWeights: weights, ...stats, c: 1 }) };
      });
      const points = setups.map((_, j) => Float64Array.from({ length: objective.size }, (_, i) => Math.cos(i + j) * 0.3));
      const results = await objective.evaluate(
        setups.map((s) => s.index),
        points,
      );
      expect(objective.passes).toBe(1);
      setups.forEach((setup, j) => expect(results[j]!.f).toBeCloseTo(reference(rows, labels, 3, setup.weights, setup.stats, 1, points[j]!).f, 5));
    } finally {
      await objective.dispose();
    }
  });

  it('computes through a short run of rows of weight 0 instead of splitting the product', async () => {
    const { rows, labels } = clusters(900, 6, 3, 8, 3);
    const objective = new SoftmaxObjective(rows, labels, 3);
    try {
      const weights = Float32Array.from({ length: rows.count }, (_, i) => (i >= 400 && i < 500 ? 0 : 1));
      const stats = columnStats(rows, weights);
      const problem = objective.addProblem({ rowWeights: weights, ...stats, c: 1 });
      const point = Float64Array.from({ length: objective.size }, (_, i) => Math.sin(i) * 0.3);
      const [result] = await objective.evaluate([problem], [point]);
      expect(objective.passes).toBe(1);
      const expected = reference(rows, labels, 3, weights, stats, 1, point);
      expect(result!.f).toBeCloseTo(expected.f, 5);
    } finally {
      await objective.dispose();
    }
  });
});

describe('minimizeSoftmax', () => {
  for (const [name, spread] of [
    ['separable', 0.3],
    ['overlapping', 6],
  ] as const) {
    it(`reaches the optimality conditions on ${name} data (gradient ~0 in an independent implementation)`, async () => {
      const { rows, labels } = clusters(120, 10, 4, 2, spread);
      const weights = new Float32Array(rows.count).fill(1);
      const stats = columnStats(rows, weights);
      const objective = new SoftmaxObjective(rows, labels, 4);
      try {
        const problem = objective.addProblem({ rowWeights: weights, ...stats, c: 1 });
        const [minimum] = await minimizeSoftmax(objective, [problem], [new Float64Array(objective.size)], { gradientTolerance: 1e-7, maxIterations: 2000 });
        expect(minimum!.status).toBe('converged');
        const { grad } = reference(rows, labels, 4, weights, stats, 1, minimum!.x);
        expect(Math.max(...grad.map(Math.abs))).toBeLessThan(1e-5);
        // A small step in any direction does not lower the objective (the minimum of a convex function).
        const random = mulberry32(3);
        const base = reference(rows, labels, 4, weights, stats, 1, minimum!.x).f;
        for (let t = 0; t < 5; t++) {
          const moved = minimum!.x.map((v) => v + (random() - 0.5) * 1e-3);
          expect(reference(rows, labels, 4, weights, stats, 1, moved).f).toBeGreaterThanOrEqual(base - 1e-12);
        }
        if (name === 'separable') {
          const probabilities: number[] = [];
          await objective.predict([problem], [minimum!.x], (_s, _c, p) => probabilities.push(...p));
          const correct = labels.filter((l, i) => probabilities.slice(i * 4, i * 4 + 4).indexOf(Math.max(...probabilities.slice(i * 4, i * 4 + 4))) === l).length;
          expect(correct).toBe(rows.count);
        }
      } finally {
        await objective.dispose();
      }
    });
  }

  it('starts a neighbouring C from the evaluation carried to it: one pass fewer, the same minimum within tolerance', async () => {
    const { rows, labels } = clusters(150, 12, 4, 3, 5);
    const weights = Float32Array.from({ length: rows.count }, (_, i) => 1 + (i % 3));
    const stats = columnStats(rows, weights);
    const objective = new SoftmaxObjective(rows, labels, 4);
    try {
      const at = (c: number): number => objective.addProblem({ rowWeights: weights, ...stats, c });
      const options = { gradientTolerance: 1e-9, relativeGradientTolerance: 0.2, maxIterations: 2000 };
      const from = at(0.05);
      const [first] = await minimizeSoftmax(objective, [from], [new Float64Array(objective.size)], options);
      const [to, plain] = [at(0.5), at(0.5)];
      // The carried value and gradient are those of a fresh evaluation of the next C at the same point.
      const [fresh] = await objective.evaluate([to], [first!.x]);
      const carried = objective.carryEvaluation({ f: first!.f, gradient: new Float64Array(first!.gradient!) }, first!.x, from, to);
      expect(carried.f).toBeCloseTo(fresh!.f, 10);
      for (let p = 0; p < objective.size; p++) expect(Math.abs(carried.gradient[p]! - fresh!.gradient[p]!)).toBeLessThan(1e-10);
      // Two runs from that point, one given the carried evaluation: it asks for one evaluation less, ends at the same point.
      let passes = 0;
      const counting = { ...options, onPass: (n: number) => void (passes = n) };
      const [withStart] = await minimizeSoftmax(objective, [to], [first!.x], { ...counting, startEvaluations: [carried] });
      const withStartPasses = passes;
      const [without] = await minimizeSoftmax(objective, [plain], [first!.x], counting);
      expect(withStartPasses).toBe(passes - 1);
      expect(withStart!.status).toBe('converged');
      for (let p = 0; p < objective.size; p++) expect(Math.abs(withStart!.x[p]! - without!.x[p]!)).toBeLessThan(1e-6);
    } finally {
      await objective.dispose();
    }
  });

  it('is deterministic: the same problem gives the same weights bit for bit', async () => {
    const run = async (): Promise<Float64Array> => {
      const { rows, labels } = clusters(200, 16, 5, 4, 4);
      const weights = new Float32Array(rows.count).fill(1);
      const objective = new SoftmaxObjective(rows, labels, 5);
      try {
        const problem = objective.addProblem({ rowWeights: weights, ...columnStats(rows, weights), c: 0.5 });
        return (await minimizeSoftmax(objective, [problem], [new Float64Array(objective.size)]))[0]!.x;
      } finally {
        await objective.dispose();
      }
    };
    expect(Array.from(await run())).toEqual(Array.from(await run()));
  });
});

describe('Lbfgs', () => {
  it('minimises the Rosenbrock function from the textbook start', () => {
    const solver = new Lbfgs(Float64Array.from([-1.2, 1]), { gradientTolerance: 1e-9, maxIterations: 1000 });
    for (let x = solver.ask(); x; x = solver.ask()) {
      const [a, b] = [x[0]!, x[1]!];
      const f = 100 * (b - a * a) ** 2 + (1 - a) ** 2;
      solver.tell(f, Float64Array.from([-400 * a * (b - a * a) - 2 * (1 - a), 200 * (b - a * a)]));
    }
    expect(solver.status).toBe('converged');
    expect(solver.x[0]).toBeCloseTo(1, 6);
    expect(solver.x[1]).toBeCloseTo(1, 6);
  });

  it('with a relative tolerance, stops once the gradient has fallen to that share of the start, never at the start', () => {
    const rosenbrock = (solver: Lbfgs): Lbfgs => {
      for (let x = solver.ask(); x; x = solver.ask()) {
        const [a, b] = [x[0]!, x[1]!];
        solver.tell(100 * (b - a * a) ** 2 + (1 - a) ** 2, Float64Array.from([-400 * a * (b - a * a) - 2 * (1 - a), 200 * (b - a * a)]));
      }
      return solver;
    };
    const exact = rosenbrock(new Lbfgs(Float64Array.from([-1.2, 1]), { gradientTolerance: 1e-9, maxIterations: 1000 }));
    const loose = rosenbrock(new Lbfgs(Float64Array.from([-1.2, 1]), { gradientTolerance: 1e-9, relativeGradientTolerance: 1e-2, maxIterations: 1000 }));
    // The start's largest gradient component is 215.6: done once it is at most 2.156.
    expect(Math.max(...loose.gradient!.map(Math.abs))).toBeLessThanOrEqual(2.156);
    expect(loose.iterations).toBeGreaterThan(0);
    expect(loose.iterations).toBeLessThan(exact.iterations);
  });

  it('steps along the textbook two-loop direction from a history it is given', () => {
    const random = mulberry32(7);
    const n = 50;
    const pairs = 4;
    // Pairs of a convex quadratic with a diagonal Hessian, so every s'y is positive.
    const hessian = Float64Array.from({ length: n }, () => 0.5 + random() * 3);
    const s = Array.from({ length: pairs }, () => Float64Array.from({ length: n }, () => random() - 0.5));
    const y = s.map((sv) => sv.map((v, i) => v * hessian[i]!));
    const g = Float64Array.from({ length: n }, () => random() - 0.5);
    const dot = (a: Float64Array, b: Float64Array): number => a.reduce((acc, v, i) => acc + v * b[i]!, 0);
    // Nocedal & Wright, Algorithm 7.4, written plainly.
    const q = Float64Array.from(g);
    const rho = s.map((sv, j) => 1 / dot(sv, y[j]!));
    const alpha: number[] = [];
    for (let j = pairs - 1; j >= 0; j--) {
      alpha[j] = rho[j]! * dot(s[j]!, q);
      for (let i = 0; i < n; i++) q[i] = q[i]! + -alpha[j]! * y[j]![i]!;
    }
    const gamma = 1 / (rho[pairs - 1]! * dot(y[pairs - 1]!, y[pairs - 1]!));
    for (let i = 0; i < n; i++) q[i] = q[i]! * gamma;
    for (let j = 0; j < pairs; j++) {
      const beta = rho[j]! * dot(y[j]!, q);
      for (let i = 0; i < n; i++) q[i] = q[i]! + (alpha[j]! - beta) * s[j]![i]!;
    }
    const expected = q.map((v) => -v);

    const solver = new Lbfgs(new Float64Array(n), { history: { s, y } });
    solver.ask();
    solver.tell(1, g);
    // From x = 0 with a history, the first trial is x + 1 * direction. Equal up to rounding: the solver's dot
    // products keep partial sums, summing in another order.
    const trial = solver.ask()!;
    const scale = Math.max(...expected.map(Math.abs));
    expect(Math.max(...expected.map((v, i) => Math.abs(v - trial[i]!)))).toBeLessThan(1e-13 * scale);
    expect(trial.some((v, i) => v !== -g[i]!)).toBe(true);
  });

  it('consuming a borrowed history gives the same iterates, writes only over its dropped y, and touches fewer vectors', () => {
    const random = mulberry32(3);
    const n = 40;
    const memory = 4;
    const hessian = Float64Array.from({ length: n }, () => 0.2 + random() * 5);
    const target = Float64Array.from({ length: n }, () => random() - 0.5);
    const pairs = Array.from({ length: memory }, () => Float64Array.from({ length: n }, () => random() - 0.5));
    const run = (consumesHistory: boolean): { xs: Float64Array[]; arena: VectorArena; s: Float64Array[]; y: Float64Array[] } => {
      const arena = VectorArena.create(n, 64)!;
      // The history in the run's own arena, as a regularisation path hands it over: borrowed, not copied.
      const s = pairs.map((p) => arena.copy(p));
      const y = s.map((sv) => arena.copy(sv.map((v, i) => v * hessian[i]!)));
      const solver = new Lbfgs(new Float64Array(n), { history: { s, y }, consumesHistory, memory, vectors: arena, gradientTolerance: 1e-12, maxIterations: 30 });
      const xs: Float64Array[] = [];
      for (let x = solver.ask(); x; x = solver.ask()) {
        xs.push(Float64Array.from(x));
        solver.tell(
          x.reduce((f, v, i) => f + 0.5 * hessian[i]! * v * v - target[i]! * v, 0),
          x.map((v, i) => hessian[i]! * v - target[i]!),
        );
      }
      expect(solver.iterations).toBeGreaterThan(2 * memory);
      return { xs, arena, s, y };
    };
    const kept = run(false);
    const consumed = run(true);
    expect(consumed.xs.length).toBe(kept.xs.length);
    consumed.xs.forEach((x, i) => expect(Array.from(x)).toEqual(Array.from(kept.xs[i]!)));
    // s is never written (copies of a history share it); a consumed history's y become the run's scratch.
    consumed.s.forEach((sv, i) => expect(Array.from(sv)).toEqual(Array.from(pairs[i]!)));
    kept.y.forEach((yv, i) => expect(Array.from(yv)).toEqual(Array.from(pairs[i]!, (v, d) => v * hessian[d]!)));
    expect(consumed.y.some((yv, i) => yv.some((v, d) => v !== pairs[i]![d]! * hessian[d]!))).toBe(true);
    expect(kept.arena.touched - consumed.arena.touched).toBe(memory);
  });

  it('rejects bad options with the value received', () => {
    expect(() => new Lbfgs(new Float64Array(1), { memory: 0 })).toThrow(/memory must be a positive integer. Received: 0/);
  });
});
