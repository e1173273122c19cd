import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/core/random.js';
import { Lbfgs } from '../../src/learn/linear/lbfgs.js';
import { minimizeSoftmax } from '../../src/learn/linear/minimize.js';
import { SoftmaxObjective } from '../../src/learn/linear/softmax-objective.js';
import { jsVectors, setMaxArenaBytes, VectorArena, type VectorSpace } from '../../src/learn/linear/vector-space.js';
import { crossValidateHeads } from '../../src/learn/select/cross-validate.js';
import { columnStats } from '../../src/learn/select/column-stats.js';
import { clusters } from './clusters.js';

/** The same random vector of `n` values, as a vector of `space`. */
function vector(space: VectorSpace, n: number, seed: number): Float64Array {
  const random = mulberry32(seed);
  const v = space.alloc();
  for (let i = 0; i < n; i++) v[i] = (random() - 0.5) * 10 ** Math.floor(random() * 6 - 3);
  return v;
}

const bits = (v: Float64Array | number): string => Buffer.from(new Float64Array(typeof v === 'number' ? [v] : v).buffer).toString('hex');

describe('VectorArena: the WebAssembly SIMD loops L-BFGS runs on', () => {
  // Lengths around the 4-wide blocks, and one as long as a real problem (2 560 features x 10 classes + 10).
  for (const n of [1, 3, 4, 7, 33, 25_610]) {
    it(`gives the JavaScript loops' doubles bit for bit (n = ${n})`, () => {
      const arena = VectorArena.create(n, 16)!;
      expect(arena).toBeDefined();
      const js = jsVectors(n);
      const operands = (space: VectorSpace) => Array.from({ length: 6 }, (_, k) => vector(space, n, 100 * n + k));
      const [a, b, c, d, e, f] = operands(arena);
      const [ja, jb, jc, jd, je, jf] = operands(js);
      expect(bits(arena.dot(a!, b!))).toBe(bits(js.dot(ja!, jb!)));
      expect(bits(arena.axpyScaleDot(a!, -0.37, b!, 1.9, c!))).toBe(bits(js.axpyScaleDot(ja!, -0.37, jb!, 1.9, jc!)));
      expect(bits(a!)).toBe(bits(ja!));
      arena.negAxpy(b!, 2.5, c!);
      js.negAxpy(jb!, 2.5, jc!);
      expect(bits(b!)).toBe(bits(jb!));
      arena.along(d!, e!, 0.013, f!);
      js.along(jd!, je!, 0.013, jf!);
      expect(bits(d!)).toBe(bits(jd!));
      expect(bits(arena.diffDot(a!, b!, c!, d!, e!, f!))).toBe(bits(js.diffDot(ja!, jb!, jc!, jd!, je!, jf!)));
      expect(bits(a!)).toBe(bits(ja!));
      expect(bits(b!)).toBe(bits(jb!));
      expect(arena.absMax(e!)).toBe(js.absMax(je!));
      arena.axpy(f!, -1.3, a!, n - 1);
      js.axpy(jf!, -1.3, ja!, n - 1);
      expect(bits(f!)).toBe(bits(jf!));
    });
  }

  it('passes over NaNs in absMax as the JavaScript loop does, in the vector part and the tail', () => {
    const arena = VectorArena.create(7, 2)!;
    const g = arena.alloc();
    g.set([0.5, Number.NaN, -3, 1, 2, Number.NaN, -2.5]);
    expect(arena.absMax(g)).toBe(3);
    expect(jsVectors(7).absMax(Float64Array.from(g))).toBe(3);
  });

  it('runs the JavaScript loop on an operand from outside its memory, and hands out plain arrays once full', () => {
    const arena = VectorArena.create(5, 2)!;
    const own = arena.alloc();
    own.set([1, 2, 3, 4, 5]);
    expect(arena.dot(own, Float64Array.from([1, 1, 1, 1, 1]))).toBe(15);
    arena.alloc();
    const extra = arena.alloc();
    expect(extra.buffer).not.toBe(own.buffer);
    expect(arena.adopt(own)).toBe(own);
    const adopted = arena.adopt(Float64Array.from([5, 4, 3, 2, 1]));
    expect(Array.from(adopted)).toEqual([5, 4, 3, 2, 1]);
  });

  it('takes given-back slots again before touching new ones, and ignores vectors it does not own', () => {
    const arena = VectorArena.create(6, 8)!;
    const [a, b, c] = [arena.alloc(), arena.alloc(), arena.alloc()];
    expect(arena.touched).toBe(3);
    arena.giveBack([a, Float64Array.from([1, 2, 3, 4, 5, 6])]);
    b.fill(2);
    const again = arena.alloc();
    expect(again.byteOffset).toBe(a.byteOffset);
    expect(arena.touched).toBe(3);
    arena.alloc();
    expect(arena.touched).toBe(4);
    expect(Array.from(b)).toEqual([2, 2, 2, 2, 2, 2]);
    expect(c.byteOffset).not.toBe(again.byteOffset);
  });

  it('hands a released memory to the next arena, zeroed slot by slot, grown where it is too small', () => {
    const first = VectorArena.create(1000, 4)!;
    const old = first.alloc();
    old.fill(7);
    first.release();
    // Released: plain arrays from now on, and its kernels no longer read the memory it gave back.
    const late = first.alloc();
    expect(late.buffer).not.toBe(old.buffer);
    expect(first.dot(old, old)).toBe(49 * 1000);

    const next = VectorArena.create(1000, 4)!;
    const reused = next.alloc();
    expect(reused.buffer).toBe(old.buffer);
    expect(reused.every((x) => x === 0)).toBe(true);
    reused.fill(2);
    expect(next.dot(reused, reused)).toBe(4 * 1000);
    next.release();

    // More pages than any arena of this file: the same memory, grown (its old views detach), slots past the old end zeroed too.
    const larger = VectorArena.create(1000, 1024)!;
    const slots = Array.from({ length: 1024 }, () => larger.alloc());
    expect(new Set(slots.map((v) => v.buffer)).size).toBe(1);
    expect(old.length).toBe(0);
    expect(slots.every((v) => v.every((x) => x === 0))).toBe(true);
    larger.release();
  });
});

describe('L-BFGS in an arena', () => {
  it('takes the same steps as with plain arrays, to the bit, from a borrowed history', () => {
    const n = 50;
    const rosenbrock = (x: Float64Array, g: Float64Array): number => {
      let f = 0;
      g.fill(0);
      for (let i = 0; i + 1 < n; i++) {
        const a = x[i + 1]! - x[i]! * x[i]!;
        const b = 1 - x[i]!;
        f += 100 * a * a + b * b;
        g[i]! += -400 * x[i]! * a - 2 * b;
        g[i + 1]! += 200 * a;
      }
      return f;
    };
    const runWith = (vectors: VectorSpace | undefined, warm?: Lbfgs): Lbfgs => {
      const start = Float64Array.from({ length: n }, (_, i) => (i % 2 ? 1 : -1.2));
      const run = new Lbfgs(start, { vectors, gradientTolerance: 1e-9, memory: 5, ...(warm ? { history: { s: warm.history.s.map((v) => Float64Array.from(v)), y: warm.history.y.map((v) => Float64Array.from(v)) } } : {}) });
      for (let x = run.ask(); x; x = run.ask()) {
        const g = new Float64Array(n);
        run.tell(rosenbrock(x, g), g);
      }
      return run;
    };
    const plain = runWith(undefined);
    const inArena = runWith(VectorArena.create(n, 40)!);
    expect(inArena.iterations).toBe(plain.iterations);
    expect(bits(inArena.x)).toBe(bits(plain.x));
    const plainWarm = runWith(undefined, plain);
    const arenaWarm = runWith(VectorArena.create(n, 40)!, plain);
    expect(arenaWarm.iterations).toBe(plainWarm.iterations);
    expect(bits(arenaWarm.x)).toBe(bits(plainWarm.x));
    expect(plain.status).toBe('converged');
  });

  it('minimizeSoftmax returns vectors of its own (copied out of the arena it reuses), the same on every call', async () => {
    const { rows, labels } = clusters(120, 9, 3, 2, 2);
    const objective = new SoftmaxObjective(rows, labels, 3);
    try {
      const weights = new Float32Array(rows.count).fill(1);
      const problem = objective.addProblem({ rowWeights: weights, ...columnStats(rows, weights), c: 1 });
      const solve = () => minimizeSoftmax(objective, [problem, problem], [new Float64Array(objective.size), new Float64Array(objective.size)]);
      const [first] = await solve();
      const kept = bits(first!.x);
      const keptHistory = first!.history.y.map(bits);
      const [second] = await solve();
      expect(bits(first!.x)).toBe(kept);
      expect(first!.history.y.map(bits)).toEqual(keptHistory);
      expect(bits(second!.x)).toBe(kept);
      expect(first!.x.buffer).not.toBe(second!.x.buffer);
      expect(first!.x.byteLength).toBe(first!.x.buffer.byteLength);
    } finally {
      await objective.dispose();
    }
  });
});

describe('a selection without arenas (no WebAssembly, or a problem too large for one)', () => {
  it('scores every candidate as with them, to the bit, and warm-starts the final fit the same', async () => {
    const { rows, labels } = clusters(140, 7, 3, 9, 2.5);
    const mirrored = { ...rows, data: rows.data.map((v, i) => v + ((i * 7919) % 11) * 0.02) };
    const select = () => crossValidateHeads(rows, mirrored, { labels, classNames: ['a', 'b', 'c'], seed: 2 });
    const inArenas = await select();
    const previous = setMaxArenaBytes(0);
    try {
      expect(VectorArena.create(10, 1)).toBeUndefined();
      const plain = await select();
      expect(plain.table).toEqual(inArenas.table);
      expect(plain.table.length).toBeGreaterThan(8);
      expect(bits(plain.warmStart)).toBe(bits(inArenas.warmStart));
      expect(plain.warmHistory!.history.y.map(bits)).toEqual(inArenas.warmHistory!.history.y.map(bits));
      expect(bits(Float64Array.from(plain.outOfFold))).toBe(bits(Float64Array.from(inArenas.outOfFold)));
    } finally {
      setMaxArenaBytes(previous);
    }
  });
});
