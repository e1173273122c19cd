import { GraftError } from '../../core/errors.js';
import { DEFAULT_LBFGS_MEMORY, Lbfgs, type LbfgsHistory, type LbfgsOptions, type LbfgsStatus } from './lbfgs.js';
import type { Evaluation, SoftmaxObjective } from './softmax-objective.js';
import { jsVectors, VectorArena, type VectorSpace } from './vector-space.js';

/** Where one problem's minimisation ended. */
export interface Minimum {
  readonly x: Float64Array;
  readonly f: number;
  readonly iterations: number;
  readonly status: LbfgsStatus;
  /** The run's correction pairs: a warm start for a neighbouring problem (see SoftmaxObjective.carryHistory). */
  readonly history: LbfgsHistory;
  /**
   * The gradient at `x` (undefined if the run never evaluated one): with `f`, the start of a neighbouring problem
   * at the same point (see SoftmaxObjective.carryEvaluation).
   */
  readonly gradient: Float64Array | undefined;
}

export interface MinimizeOptions extends Omit<LbfgsOptions, 'history' | 'vectors'> {
  /** Correction pairs to start each run from (per problem, same order as `which`). */
  readonly histories?: readonly (LbfgsHistory | undefined)[];
  /**
   * Value and gradient at each start where already known (per problem, same order as `which`): the run takes them
   * instead of a pass over the rows, and owns the gradient from then on (it becomes one of its buffers).
   */
  readonly startEvaluations?: readonly (Evaluation | undefined)[];
  /** Checked between passes: aborting stops with GraftError CANCELLED. */
  readonly signal?: AbortSignal;
  /** Called after each pass over the rows with the number of passes so far and each run's current value. */
  readonly onPass?: (passes: number, values: readonly number[]) => void;
  /**
   * Run in this arena and return its vectors as they are, uncopied: the caller owns it, and gives back what it no
   * longer needs (VectorArena.retainOnly). Without one, the run makes its own and copies out what it returns.
   */
  readonly arena?: VectorArena;
}

/** Vectors one L-BFGS run holds at once: its correction pairs, 3 points, the direction, 2 scratch, 2 gradients. */
export function arenaSlotsPerRun(memory = DEFAULT_LBFGS_MEMORY): number {
  return 2 * memory + 8;
}

/**
 * Minimises problems `which` of `objective` from `starts` (warm starts along a regularisation path, or zeros), each
 * with its own L-BFGS run, evaluating all runs still going in one pass over the rows. The runs' vectors live in a
 * WebAssembly arena where there is one (see vector-space.ts); what is returned is copied out of it.
 */
export async function minimizeSoftmax(objective: SoftmaxObjective, which: readonly number[], starts: readonly Float64Array[], options: MinimizeOptions = {}): Promise<Minimum[]> {
  if (options.arena) return minimizeIn(options.arena, objective, which, starts, options, (v) => v);
  const arena = VectorArena.create(objective.size, starts.length * arenaSlotsPerRun(options.memory));
  if (!arena) return minimizeIn(jsVectors(objective.size), objective, which, starts, options, (v) => v);
  try {
    return await minimizeIn(arena, objective, which, starts, options, (v) => new Float64Array(v));
  } finally {
    arena.release();
  }
}

async function minimizeIn(
  vectors: VectorSpace,
  objective: SoftmaxObjective,
  which: readonly number[],
  starts: readonly Float64Array[],
  options: MinimizeOptions,
  keep: (v: Float64Array) => Float64Array,
): Promise<Minimum[]> {
  const runs = starts.map((x0, j) => new Lbfgs(x0, { ...options, history: options.histories?.[j], vectors }));
  // Two gradient buffers per run: a run keeps the gradient of its accepted point and needs one for its trial, so the
  // other buffer is always free (a gradient per evaluation was most of a selection's garbage).
  const buffers = runs.map((): Float64Array[] => []);
  runs.forEach((run, j) => {
    const known = options.startEvaluations?.[j];
    if (!known) return;
    buffers[j]!.push(known.gradient);
    run.tell(known.f, known.gradient);
  });
  const freeBuffer = (j: number): Float64Array => {
    const kept = runs[j]!.gradient;
    const pool = buffers[j]!;
    const free = pool.find((buffer) => buffer !== kept);
    if (free) return free;
    const fresh = vectors.alloc();
    pool.push(fresh);
    return fresh;
  };
  for (let passes = 1; ; passes++) {
    if (options.signal?.aborted) throw new GraftError('CANCELLED', 'Training was cancelled');
    const active = runs.flatMap((run, j) => {
      const point = run.ask();
      return point ? [{ j, point }] : [];
    });
    if (active.length === 0) break;
    const results = await objective.evaluate(
      active.map((a) => which[a.j]!),
      active.map((a) => a.point),
      active.map((a) => freeBuffer(a.j)),
    );
    active.forEach((a, t) => runs[a.j]!.tell(results[t]!.f, results[t]!.gradient));
    options.onPass?.(passes, results.map((r) => r.f));
  }
  return runs.map((run) => ({ x: keep(run.x), f: run.f, iterations: run.iterations, status: run.status, history: { s: run.history.s.map(keep), y: run.history.y.map(keep) }, gradient: run.gradient && keep(run.gradient) }));
}
