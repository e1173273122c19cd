import { jsVectors, type VectorSpace } from './vector-space.js';

/**
 * Limited-memory BFGS as an ask/tell state machine: the caller asks for the next point, evaluates the objective
 * and its gradient there, and tells the result. Written this way so that many independent problems (the folds and
 * candidates of a cross-validation) can be evaluated together, in one pass over the data, while each keeps its own
 * iterations, line search and convergence test.
 *
 * Line search: backtracking from the L-BFGS step (length 1, or 1/|g| on the first iteration) with a quadratic
 * interpolation safeguarded to [0.1, 0.5] of the last step, until the Armijo condition holds. The inverse-Hessian
 * update is skipped when the curvature s'y is not positive, so the direction stays a descent direction. For the
 * smooth, strictly convex objectives Graft solves (L2-regularised softmax regression), this converges to the
 * unique minimum.
 */

/** Why a run ended. */
export type LbfgsStatus = 'running' | 'converged' | 'max-iterations' | 'no-progress';

export interface LbfgsOptions {
  /** Converged when the largest gradient component is at most this. Defaults to 1e-5. */
  readonly gradientTolerance?: number;
  /**
   * Also converged when the largest gradient component has fallen to this fraction of the starting point's. Along a
   * warm-started regularisation path the start is already close, so an absolute tolerance alone can accept it
   * unmoved; a relative one makes every step of the path do its share of work. Defaults to 0 (off).
   */
  readonly relativeGradientTolerance?: number;
  /** Converged when an iteration lowers f by less than this times max(|f|, 1). Defaults to 1e-10. */
  readonly relativeDecrease?: number;
  /** Accepted iterations at most. Defaults to 500. */
  readonly maxIterations?: number;
  /** Correction pairs kept. Defaults to 10. */
  readonly memory?: number;
  /**
   * Correction pairs to start from (e.g. from a neighbouring problem along a regularisation path), so the first step
   * is already scaled by curvature instead of being a short steepest-descent step. Newest last. Borrowed, not
   * copied: the run only reads these arrays (unless consumesHistory), so one history can start several runs; the
   * caller must not change them while those runs go on.
   */
  readonly history?: LbfgsHistory;
  /**
   * The run may write over the y vectors of `history`'s pairs once it drops them (their s vectors stay read-only:
   * copies share them, see copyHistory). For a caller that hands each run a history of its own, as a regularisation
   * path does (SoftmaxObjective.carryHistory has rewritten those y for this run already): the run then needs one fresh
   * vector per new pair instead of two. Defaults to false.
   */
  readonly consumesHistory?: boolean;
  /** Where the run's vectors live and the loops over them. Defaults to plain arrays (jsVectors). */
  readonly vectors?: VectorSpace;
}

/** L-BFGS correction pairs: steps s_i and gradient changes y_i, oldest first. */
export interface LbfgsHistory {
  readonly s: readonly Float64Array[];
  readonly y: readonly Float64Array[];
}

/**
 * A history whose y vectors may be changed (by SoftmaxObjective.carryHistory) without touching this one; s is shared,
 * as nothing writes to it. The copies are made in `arena` when given (see VectorArena).
 */
export function copyHistory(history: LbfgsHistory, arena?: { copy(v: Float64Array): Float64Array }): LbfgsHistory {
  // The constructor from a typed array is a memory copy; Float64Array.from goes element by element (10x slower).
  return { s: history.s, y: history.y.map((y) => (arena ? arena.copy(y) : new Float64Array(y))) };
}

/** Correction pairs kept unless LbfgsOptions.memory says otherwise. */
export const DEFAULT_LBFGS_MEMORY = 10;

const ARMIJO = 1e-4;
const MAX_BACKTRACKS = 30;

export class Lbfgs {
  readonly #gtol: number;
  readonly #rtol: number;
  #gtolEffective: number;
  readonly #ftol: number;
  readonly #maxIterations: number;
  readonly #memory: number;
  readonly #space: VectorSpace;
  readonly #s: Float64Array[] = [];
  readonly #y: Float64Array[] = [];
  readonly #rho: number[] = [];
  /** How many of the oldest pairs are borrowed from options.history (read-only: never reused as scratch). */
  #borrowed = 0;
  /** Whether a dropped borrowed pair's y buffer may become scratch (options.consumesHistory). */
  readonly #consumes: boolean;
  #scratchS: Float64Array | undefined;
  #scratchY: Float64Array | undefined;
  /** A point buffer no longer needed (the last rejected trial, or the point before the last accepted one): the next trial is written into it. */
  #spare: Float64Array | undefined;
  /** The search direction's buffer, rewritten by every iteration (nothing outside the run sees it). */
  #directionBuffer: Float64Array | undefined;
  /** The accepted point, its value and gradient. */
  #x: Float64Array;
  #f = Number.NaN;
  #g: Float64Array | undefined;
  /** The point asked for and not yet told. */
  #trial: Float64Array;
  #direction: Float64Array | undefined;
  #step = 0;
  #slope = 0;
  #backtracks = 0;
  #iterations = 0;
  #evaluations = 0;
  #status: LbfgsStatus = 'running';

  /** Starts at `x0` (copied); the first point asked for is x0 itself. */
  constructor(x0: Float64Array, options: LbfgsOptions = {}) {
    this.#gtol = options.gradientTolerance ?? 1e-5;
    this.#rtol = options.relativeGradientTolerance ?? 0;
    this.#gtolEffective = this.#gtol;
    this.#ftol = options.relativeDecrease ?? 1e-10;
    this.#maxIterations = options.maxIterations ?? 500;
    this.#memory = options.memory ?? DEFAULT_LBFGS_MEMORY;
    this.#consumes = options.consumesHistory ?? false;
    if (!(this.#gtol >= 0) || !(this.#ftol >= 0)) throw new RangeError(`tolerances must be >= 0. Received: ${this.#gtol}, ${this.#ftol}`);
    if (!Number.isInteger(this.#maxIterations) || this.#maxIterations < 0) throw new RangeError(`maxIterations must be an integer >= 0. Received: ${this.#maxIterations}`);
    if (!Number.isInteger(this.#memory) || this.#memory < 1) throw new RangeError(`memory must be a positive integer. Received: ${this.#memory}`);
    const space = (this.#space = options.vectors ?? jsVectors(x0.length));
    this.#x = space.alloc();
    this.#x.set(x0);
    this.#trial = this.#x;
    for (const [i, given] of (options.history?.s ?? []).slice(-this.#memory).entries()) {
      const offset = Math.max(0, (options.history?.s.length ?? 0) - this.#memory);
      if (given.length !== x0.length) continue;
      // A space with its own memory copies the pair in (then it is the run's own); plain arrays are borrowed.
      const sv = space.adopt(given);
      const yv = space.adopt(options.history!.y[offset + i]!);
      const sy = space.dot(sv, yv);
      if (!(sy > 1e-12)) continue;
      if (sv === given) this.#borrowed++;
      this.#s.push(sv);
      this.#y.push(yv);
      this.#rho.push(1 / sy);
    }
  }

  /** The correction pairs gathered so far (the solver's own arrays: copy before changing them). */
  get history(): LbfgsHistory {
    return { s: this.#s, y: this.#y };
  }

  /** The point to evaluate next, or undefined once the run has ended. */
  ask(): Float64Array | undefined {
    return this.#status === 'running' ? this.#trial : undefined;
  }

  /** The objective's value and gradient at the point from `ask()`. The gradient is kept: do not write to it afterwards. */
  tell(f: number, g: Float64Array): void {
    if (this.#status !== 'running') throw new Error('Lbfgs.tell after the run ended');
    this.#evaluations++;
    if (!this.#g) {
      // The starting point.
      let gmax = 0;
      for (let i = 0; i < g.length; i++) gmax = Math.max(gmax, Math.abs(g[i]!));
      this.#gtolEffective = Math.max(this.#gtol, this.#rtol * gmax);
      if (this.#rtol > 0 && gmax > this.#gtol) {
        // A relative goal is met by a move, not by the start: check it from the first iteration on.
        this.#x = this.#trial;
        this.#f = f;
        this.#g = g;
        this.#beginIteration(g);
        return;
      }
      this.#accept(this.#trial, f, g);
      return;
    }
    if (Number.isFinite(f) && f <= this.#f + ARMIJO * this.#step * this.#slope) {
      const previousF = this.#f;
      // Written into scratch buffers; once the memory is full, the dropped pair's buffers become the next scratch.
      const s = (this.#scratchS ??= this.#space.alloc());
      const y = (this.#scratchY ??= this.#space.alloc());
      const sy = this.#space.diffDot(s, y, this.#trial, this.#x, g, this.#g);
      if (sy > 1e-12) {
        const full = this.#s.length === this.#memory;
        // A dropped pair's buffers become the next scratch, unless they were borrowed (a consumed history's y may).
        const owned = this.#borrowed === 0;
        if (!owned && full) this.#borrowed--;
        this.#scratchS = full ? this.#s.shift() : undefined;
        this.#scratchY = full ? this.#y.shift() : undefined;
        if (!owned) this.#scratchS = undefined;
        if (!owned && !this.#consumes) this.#scratchY = undefined;
        if (full) this.#rho.shift();
        this.#s.push(s);
        this.#y.push(y);
        this.#rho.push(1 / sy);
      }
      this.#iterations++;
      this.#spare = this.#x;
      this.#accept(this.#trial, f, g);
      if (this.#status === 'running' && previousF - f <= this.#ftol * Math.max(Math.abs(f), 1)) this.#status = 'converged';
      return;
    }
    // Armijo failed: shrink the step (minimum of the quadratic through f(0), f'(0) and f(step), safeguarded).
    if (++this.#backtracks > MAX_BACKTRACKS) {
      this.#status = 'no-progress';
      return;
    }
    const quadratic = Number.isFinite(f) ? (-this.#slope * this.#step * this.#step) / (2 * (f - this.#f - this.#slope * this.#step)) : 0;
    this.#step = Math.min(Math.max(quadratic, 0.1 * this.#step), 0.5 * this.#step);
    this.#spare = this.#trial;
    this.#trial = this.#pointAlong(this.#step);
  }

  /** Where the run stands: 'running' until converged, out of iterations, or unable to decrease f. */
  get status(): LbfgsStatus {
    return this.#status;
  }

  /** The best point found (the last accepted one). */
  get x(): Float64Array {
    return this.#x;
  }

  get f(): number {
    return this.#f;
  }

  get gradient(): Float64Array | undefined {
    return this.#g;
  }

  get iterations(): number {
    return this.#iterations;
  }

  get evaluations(): number {
    return this.#evaluations;
  }

  #accept(x: Float64Array, f: number, g: Float64Array): void {
    this.#x = x;
    this.#f = f;
    this.#g = g;
    const gmax = this.#space.absMax(g);
    if (!Number.isFinite(f)) this.#status = 'no-progress';
    else if (gmax <= this.#gtolEffective) this.#status = 'converged';
    else if (this.#iterations >= this.#maxIterations) this.#status = 'max-iterations';
    if (this.#status !== 'running') return;
    this.#beginIteration(g);
  }

  /** Sets up the line search from the accepted point along the L-BFGS direction. */
  #beginIteration(g: Float64Array): void {
    const direction = this.#twoLoop(g);
    let slope = this.#space.dot(g, direction);
    if (!(slope < 0)) {
      // Not a descent direction (can only follow numerical trouble): restart from steepest descent.
      this.#s.length = this.#y.length = this.#rho.length = 0;
      this.#borrowed = 0;
      for (let i = 0; i < g.length; i++) direction[i] = -g[i]!;
      slope = -g.reduce((sum, v) => sum + v * v, 0);
    }
    this.#direction = direction;
    this.#slope = slope;
    this.#backtracks = 0;
    this.#step = this.#s.length === 0 ? Math.min(1, 1 / Math.sqrt(-slope)) : 1;
    this.#trial = this.#pointAlong(this.#step);
  }

  #pointAlong(step: number): Float64Array {
    // Buffers are recycled: a run of hundreds of iterations would otherwise allocate a parameter vector each.
    const point = this.#spare && this.#spare !== this.#x ? this.#spare : this.#space.alloc();
    this.#spare = undefined;
    this.#space.along(point, this.#x, step, this.#direction!);
    return point;
  }

  /**
   * -H g by the two-loop recursion, H scaled by s'y / y'y of the newest pair, into a buffer reused across iterations.
   * Each pass over the vector does one pair's update and the next pair's dot product together (half the memory
   * traffic of a dot and an axpy apiece: the recursion is most of a selection's time outside the matrix products).
   */
  #twoLoop(g: Float64Array): Float64Array {
    const space = this.#space;
    const q = (this.#directionBuffer ??= space.alloc());
    const m = this.#s.length;
    const alpha = new Float64Array(m);
    if (m === 0) {
      for (let i = 0; i < q.length; i++) q[i] = -g[i]!;
      return q;
    }
    q.set(g);
    let sum = space.dot(this.#s[m - 1]!, q);
    // First loop, newest pair first: alpha_j = rho_j s_j . q, then q -= alpha_j y_j.
    for (let j = m - 1; j >= 0; j--) {
      alpha[j] = this.#rho[j]! * sum;
      if (j > 0) {
        sum = space.axpyScaleDot(q, -alpha[j]!, this.#y[j]!, 1, this.#s[j - 1]!);
      } else {
        // The last update, the initial scaling gamma and the second loop's first dot product in one pass.
        const yTop = this.#y[m - 1]!;
        const gamma = 1 / (this.#rho[m - 1]! * space.dot(yTop, yTop));
        sum = space.axpyScaleDot(q, -alpha[0]!, this.#y[0]!, gamma, this.#y[0]!);
      }
    }
    // Second loop, oldest pair first: beta_j = rho_j y_j . q, then q += (alpha_j - beta_j) s_j; negated at the end.
    for (let j = 0; j < m; j++) {
      const b = alpha[j]! - this.#rho[j]! * sum;
      if (j + 1 < m) {
        sum = space.axpyScaleDot(q, b, this.#s[j]!, 1, this.#y[j + 1]!);
      } else {
        space.negAxpy(q, b, this.#s[j]!);
      }
    }
    return q;
  }
}
