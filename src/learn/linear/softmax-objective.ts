import * as ort from 'onnxruntime-node';
import { createSession, type OrtSession } from '../../runtime/ort-session.js';
import { encodeOnnxModel, makeFloatValueInfo, makeInt64Initializer, makeNode, onnx } from '../../onnx/onnx-model.js';
import { matrixRowSource, type RowSource } from '../../features/feature-rows.js';
import type { FeatureMatrix } from '../train-head.js';
import type { LbfgsHistory } from './lbfgs.js';
import { jsVectors, type VectorSpace } from './vector-space.js';

/**
 * One L2-regularised softmax regression over (a weighted subset of) the rows: a fold of a cross-validation, a
 * candidate, or the final fit. Its parameters are W [dim, K] (row-major, Dense-kernel layout) then b [K], acting on
 * standardised features (x - mean) / std.
 *
 * Objective (sklearn's LogisticRegression, divided by C times the weight sum S):
 *   f = (1/S) sum_i w_i CE_i + 1 / (2 C S) |W|^2      (b is not penalised)
 */
export interface SoftmaxProblem {
  /** Weight of each row; 0 leaves a row out (a held-out fold, a view this candidate does not train on). */
  readonly rowWeights: Float32Array;
  /** Per-dimension standardisation of this problem's training rows. */
  readonly mean: Float32Array;
  readonly std: Float32Array;
  /** Inverse regularisation strength, as sklearn's `C`. */
  readonly c: number;
}

/** Value and gradient of each problem asked for. */
export interface Evaluation {
  readonly f: number;
  readonly gradient: Float64Array;
}

export interface SoftmaxObjectiveOptions {
  /** onnxruntime intra-op threads. Defaults to 2. */
  readonly threads?: number;
  /** Rows per onnxruntime call; bounds the memory of one call (rows x (dim + 3 x problems x K) floats). Defaults to 4096. */
  readonly blockRows?: number;
}

/**
 * One block of rows' probabilities from a gradient pass: [count, columns.length, K] floats for rows start.., for the
 * pass's problems at positions `columns` (those that weigh these rows).
 */
interface ProbabilityBlock {
  readonly p3: Float32Array;
  readonly start: number;
  readonly count: number;
  readonly columns: readonly number[];
}

/** Rows [start, end). */
type RowRange = readonly [start: number, end: number];

/**
 * A run of rows of weight 0 shorter than this is computed through (its rows add exactly nothing): another matrix
 * product for each side would cost more than the rows it skips.
 */
const MIN_SKIPPED_ROWS = 256;

/**
 * Evaluates many softmax-regression problems over the same rows in one pass: the parameters of every problem asked
 * for sit side by side in one matrix, so each block of rows takes one matrix product for all logits and one for
 * all gradients, both in onnxruntime's native GEMM (MLAS). Standardisation is folded into the parameters
 * (W / std, b - mean . W / std), so rows are read raw and never copied per problem.
 */
export class SoftmaxObjective {
  /** The rows: in memory, or read block by block from a file (see spillRows) when they do not fit. */
  readonly rows: RowSource;
  readonly labels: Int32Array;
  readonly numClasses: number;
  readonly #problems: SoftmaxProblem[] = [];
  readonly #weightSums: number[] = [];
  /**
   * The row ranges each problem weighs: rows of weight 0 add nothing to a value or gradient, so a pass skips a long
   * run of them. A fold's problem in a cross-validation weighs none of its own fold's rows (laid out together, see
   * crossValidateHeads), and a 'plain' candidate none of the mirror rows that follow the plain ones.
   */
  readonly #ranges: RowRange[][] = [];
  readonly #threads: number;
  readonly #blockRows: number;
  readonly #sessions = new Map<string, Promise<OrtSession>>();
  readonly #labels64: BigInt64Array;
  /**
   * Each problem's last evaluated point and that pass's probability blocks, in which it is position `column` of the
   * pass's problems (present in the blocks whose `columns` hold it). An L-BFGS run ends on a point it has evaluated,
   * so scoring it afterwards (predict) is served from here without another pass over the rows.
   */
  readonly #last = new Map<number, { point: Float64Array; blocks: readonly ProbabilityBlock[]; column: number }>();
  readonly #buffers = new Map<number, { r: Float64Array; nll: Float64Array; weight: Float32Array; bias: Float32Array }>();
  /** One problem's q = G' x [K, dim] summed in float64, where it came in more than two parts. */
  #sums: Float64Array | undefined;
  /** The folded parameters of a subset of a pass's problems, by width (see #columnsOf). */
  readonly #subsets = new Map<number, { weight: Float32Array; bias: Float32Array }>();
  /** Matrix products run, for the benchmark's accounting. */
  passes = 0;

  constructor(rows: FeatureMatrix | RowSource, labels: Int32Array, numClasses: number, options: SoftmaxObjectiveOptions = {}) {
    if (labels.length !== rows.count) throw new RangeError(`labels (${labels.length}) and rows (${rows.count}) differ in length`);
    if (labels.some((l) => !(l >= 0 && l < numClasses))) throw new RangeError(`labels must be in [0, ${numClasses})`);
    this.rows = 'data' in rows ? matrixRowSource(rows) : rows;
    this.labels = labels;
    this.numClasses = numClasses;
    this.#threads = options.threads ?? 2;
    this.#blockRows = options.blockRows ?? 4096;
    this.#labels64 = BigInt64Array.from(labels, (l) => BigInt(l));
  }

  /** Registers a problem over these rows; returns its index for evaluate and predict. */
  addProblem(problem: SoftmaxProblem): number {
    const { count, dim } = this.rows;
    if (problem.rowWeights.length !== count) throw new RangeError(`rowWeights has ${problem.rowWeights.length} entries for ${count} rows`);
    if (problem.mean.length !== dim || problem.std.length !== dim) throw new RangeError(`mean and std must have ${dim} entries`);
    if (!(problem.c > 0 && problem.c < Infinity)) throw new RangeError(`C must be a positive number. Received: ${problem.c}`);
    const weightSum = problem.rowWeights.reduce((s, w) => s + w, 0);
    if (!(weightSum > 0)) throw new RangeError('a problem needs at least one row with a positive weight');
    this.#problems.push(problem);
    this.#weightSums.push(weightSum);
    this.#ranges.push(weightedRanges(problem.rowWeights));
    return this.#problems.length - 1;
  }

  /** Number of parameters of one problem: dim x K + K. */
  get size(): number {
    return this.rows.dim * this.numClasses + this.numClasses;
  }

  /**
   * Value and gradient of problem `which[j]` at `points[j]`, all in one pass over the rows. `into[j]`, when given, is
   * written with the gradient and returned as it (a solver recycles its gradients; fresh ones are allocated otherwise).
   */
  async evaluate(which: readonly number[], points: readonly Float64Array[], into?: readonly (Float64Array | undefined)[]): Promise<Evaluation[]> {
    const { dim } = this.rows;
    const k = this.numClasses;
    const m = which.length * k;
    const folded = this.#fold(which, points);
    // Accumulators reused across calls with the same width (a solver makes hundreds of calls).
    const { r, nll } = this.#accumulators(dim * m, m);
    // Each problem's parts of q = G' x, one per product that had it, [K, dim] at row `at * K` of `data`: read where
    // they lie when the gradient is formed (adding each into a float64 buffer first was ~4% of a selection).
    const qParts: { data: Float32Array; at: number }[][] = which.map(() => []);
    // The probabilities are kept as onnxruntime returned them, for predict at a converged point: copying each
    // problem's out at every pass was ~5% of a selection, and only the last pass of each is ever read.
    const blocks: ProbabilityBlock[] = [];
    which.forEach((problemIndex, j) => this.#last.set(problemIndex, { point: points[j]!, blocks, column: j }));
    // Each stretch of rows is multiplied by the parameters of the problems that weigh it only.
    for (const { start, end, active } of segmentsOf(which.map((p) => this.#ranges[p]!))) {
      const sub = this.#columnsOf(folded, active, which.length);
      await this.#forEachBlock(
        active.map((j) => which[j]!),
        'gradient',
        sub,
        { start, end },
        (outputs, blockStart, count) => {
          active.forEach((j, at) => qParts[j]!.push({ data: outputs.q!.data as Float32Array, at }));
          addProblems(r, outputs.r!.data as Float32Array, active, k);
          addProblems(nll, outputs.nll!.data as Float32Array, active, k);
          blocks.push({ p3: outputs.p3!.data as Float32Array, start: blockStart, count, columns: active });
        },
      );
    }
    return which.map((problemIndex, j) => {
      const problem = this.#problems[problemIndex]!;
      const point = points[j]!;
      const s = this.#weightSums[problemIndex]!;
      const lambda = 1 / (problem.c * s);
      // Every entry is written below.
      const gradient = into?.[j] ?? new Float64Array(this.size);
      let f = 0;
      let penalty = 0;
      for (let c = 0; c < k; c++) {
        f -= nll[j * k + c]!;
        gradient[dim * k + c] = r[j * k + c]! / s;
      }
      // q of problem j, class c, dimension i: 0 + a, or (0 + a) + b, of its parts, read where they lie (the same
      // doubles as adding them into a float64 buffer from 0); three or more parts (many blocks) are summed so first.
      const parts = qParts[j]!;
      const two = parts.length === 2;
      const summed = parts.length > 2;
      const q = summed ? (this.#sums ??= new Float64Array(k * dim)).fill(0) : EMPTY64;
      if (summed) for (const part of parts) addProblems(q, part.data.subarray(part.at * k * dim), [0], k * dim);
      const [qa, qb] = [parts[0]?.data ?? EMPTY, parts[1]?.data ?? EMPTY];
      const [ra, rb] = [(parts[0]?.at ?? 0) * k, (parts[1]?.at ?? 0) * k];
      for (let i = 0; i < dim; i++) {
        const mean = problem.mean[i]!;
        const inv = 1 / problem.std[i]!;
        for (let c = 0; c < k; c++) {
          const w = point[i * k + c]!;
          penalty += w * w;
          const qv = summed ? q[c * dim + i]! : two ? 0 + qa[(ra + c) * dim + i]! + qb[(rb + c) * dim + i]! : 0 + qa[(ra + c) * dim + i]!;
          // d/dW of the folded weights W/std and bias b - mean . W/std; a part is [P K, dim], its problem's class c
          // row at K + c (read across rows, the few cache lines of one i at a time).
          gradient[i * k + c] = ((qv - mean * r[j * k + c]!) * inv) / s + lambda * w;
        }
      }
      return { f: f / s + 0.5 * lambda * penalty, gradient };
    });
  }

  /**
   * Class probabilities of every row under problem `which[j]`'s parameters `points[j]`:
   * `visit(rowStart, rowCount, probabilities)` gets [rowCount, which.length, K] floats per block.
   */
  async predict(which: readonly number[], points: readonly Float64Array[], visit: (rowStart: number, rowCount: number, probabilities: Float32Array) => void): Promise<void> {
    const k = this.numClasses;
    const p = which.length;
    // The rows each problem's last gradient pass covered are served from it; the rest take a pass of their own.
    const kept = which.map((problemIndex, j) => {
      const last = this.#last.get(problemIndex);
      return last && last.point === points[j] ? last.blocks.filter((b) => b.columns.includes(last.column)).map((b) => ({ block: b, at: b.columns.indexOf(last.column) })) : [];
    });
    const cuts = new Set([0, this.rows.count]);
    for (const blocks of kept) for (const { block } of blocks) cuts.add(block.start).add(block.start + block.count);
    for (const [from, to] of pieces([...cuts].sort((a, b) => a - b), this.#blockRows)) {
      const out = new Float32Array((to - from) * p * k);
      const missing: number[] = [];
      kept.forEach((blocks, j) => {
        const found = blocks.find(({ block }) => block.start <= from && to <= block.start + block.count);
        if (!found) return void missing.push(j);
        const { block, at } = found;
        copyColumn(block.p3, (from - block.start) * block.columns.length + at, block.columns.length, out, j, p, to - from, k);
      });
      if (missing.length > 0) {
        const folded = this.#fold(
          missing.map((j) => which[j]!),
          missing.map((j) => points[j]!),
        );
        await this.#forEachBlock(missing.map((j) => which[j]!), 'predict', folded, { start: from, end: to }, (outputs, start, count) => {
          const probabilities = outputs.probabilities!.data as Float32Array;
          missing.forEach((j, at) => copyColumn(probabilities, at, missing.length, out, (start - from) * p + j, p, count, k));
        });
      }
      visit(from, to - from, out);
    }
  }

  /**
   * Moves problem `from`'s correction pairs, in place, to problem `to` (same rows and standardisation, another C):
   * the objectives differ only by the L2 term on W, so every gradient change gains (lambda_to - lambda_from) s on W's
   * entries. Warm-starting the curvature along a regularisation path saves the short first steps of a cold L-BFGS.
   * `from` may also be a problem of another objective, given by its lambda: its pairs are then an approximation of
   * this problem's curvature (rows differ), which L-BFGS refines as it goes. The y vectors are rewritten (allocating
   * fresh ones was a tenth of a flowers12 selection, in allocation and garbage collection): the caller must be done
   * with the history at `from`, or have copied it (see copyHistory). The steps s are the same for both problems.
   * `vectors`: the arena the pairs live in, for its SIMD loop.
   */
  carryHistory(history: LbfgsHistory, from: number | { lambda: number }, to: number, vectors: VectorSpace = jsVectors(this.size)): LbfgsHistory {
    const delta = this.lambda(to) - (typeof from === 'number' ? this.lambda(from) : from.lambda);
    const weights = this.rows.dim * this.numClasses;
    // Every pair is moved: carrying only the newest 5 was 10% faster on 100 classes, but it moved the CV solutions
    // within tolerance and changed a test score (dtd10, seed 3: 0.850 -> 0.844); selection should not hang on that.
    history.y.forEach((y, i) => vectors.axpy(y, delta, history.s[i]!, weights));
    return history;
  }

  /**
   * Moves problem `from`'s value and gradient at `point`, in place, to problem `to` (same rows and standardisation,
   * another C): they differ by the L2 term alone, (lambda_to - lambda_from) / 2 |W|^2 and its gradient, so a
   * regularisation path starts each C without a pass over the rows. Equal to evaluating `to` there up to rounding.
   */
  carryEvaluation(evaluation: Evaluation, point: Float64Array, from: number, to: number, vectors: VectorSpace = jsVectors(this.size)): Evaluation {
    const delta = this.lambda(to) - this.lambda(from);
    const weights = this.rows.dim * this.numClasses;
    let penalty = 0;
    for (let i = 0; i < weights; i++) penalty += point[i]! * point[i]!;
    vectors.axpy(evaluation.gradient, delta, point, weights);
    return { f: evaluation.f + 0.5 * delta * penalty, gradient: evaluation.gradient };
  }

  /** The L2 weight of problem `p` in the objective as evaluated: 1 / (C S), S its rows' weight sum. */
  lambda(p: number): number {
    return 1 / (this.#problems[p]!.c * this.#weightSums[p]!);
  }

  /** Forgets what is kept for these problems (their last probabilities): call once they are scored. */
  forget(problems: readonly number[]): void {
    for (const problem of problems) this.#last.delete(problem);
  }

  /** Releases the onnxruntime sessions. */
  async dispose(): Promise<void> {
    const sessions = [...this.#sessions.values()];
    this.#sessions.clear();
    await Promise.all(sessions.map(async (s) => (await s).release()));
  }

  #accumulators(size: number, m: number): { r: Float64Array; nll: Float64Array; weight: Float32Array; bias: Float32Array } {
    let buffers = this.#buffers.get(m);
    if (!buffers) {
      buffers = { r: new Float64Array(m), nll: new Float64Array(m), weight: new Float32Array(size), bias: new Float32Array(m) };
      this.#buffers.set(m, buffers);
    }
    buffers.r.fill(0);
    buffers.nll.fill(0);
    return buffers;
  }

  /**
   * Each problem's W / std and b - mean . (W / std), side by side: [dim, P x K] and [P x K], float32, in buffers
   * reused across calls (onnxruntime has consumed them when the call returns).
   */
  #fold(which: readonly number[], points: readonly Float64Array[]): { weight: Float32Array; bias: Float32Array } {
    const { dim } = this.rows;
    const k = this.numClasses;
    const m = which.length * k;
    const { weight, bias } = this.#buffers.get(m) ?? this.#accumulators(dim * m, m);
    which.forEach((problemIndex, j) => {
      const problem = this.#problems[problemIndex]!;
      const point = points[j]!;
      if (point.length !== this.size) throw new RangeError(`a point needs ${this.size} parameters. Received: ${point.length}`);
      const b = new Float64Array(k);
      for (let c = 0; c < k; c++) b[c] = point[dim * k + c]!;
      for (let i = 0; i < dim; i++) {
        const inv = 1 / problem.std[i]!;
        const mean = problem.mean[i]!;
        for (let c = 0; c < k; c++) {
          const w = point[i * k + c]! * inv;
          weight[i * m + j * k + c] = w;
          b[c] = b[c]! - mean * w;
        }
      }
      for (let c = 0; c < k; c++) bias[j * k + c] = b[c]!;
    });
    return { weight, bias };
  }

  /** Columns `active` of a pass's folded parameters (all of them: the buffers themselves). */
  #columnsOf(folded: { weight: Float32Array; bias: Float32Array }, active: readonly number[], problems: number): { weight: Float32Array; bias: Float32Array } {
    if (active.length === problems) return folded;
    const { dim } = this.rows;
    const k = this.numClasses;
    const m = problems * k;
    const width = active.length * k;
    let sub = this.#subsets.get(width);
    if (!sub) this.#subsets.set(width, (sub = { weight: new Float32Array(dim * width), bias: new Float32Array(width) }));
    for (let i = 0; i < dim; i++) active.forEach((j, at) => sub!.weight.set(folded.weight.subarray(i * m + j * k, i * m + j * k + k), i * width + at * k));
    active.forEach((j, at) => sub!.bias.set(folded.bias.subarray(j * k, j * k + k), at * k));
    return sub;
  }

  async #forEachBlock(
    which: readonly number[],
    kind: 'gradient' | 'predict',
    folded: { weight: Float32Array; bias: Float32Array },
    range: { start: number; end: number },
    visit: (outputs: ort.InferenceSession.OnnxValueMapType, start: number, count: number) => void,
  ): Promise<void> {
    const { dim } = this.rows;
    const p = which.length;
    const m = p * this.numClasses;
    const session = await this.#session(kind);
    const w = new ort.Tensor('float32', folded.weight, [dim, m]);
    const b = new ort.Tensor('float32', folded.bias, [m]);
    for (let start = range.start; start < range.end; start += this.#blockRows) {
      const rows = Math.min(this.#blockRows, range.end - start);
      const feeds: Record<string, ort.Tensor> = { x: new ort.Tensor('float32', this.rows.read(start, rows), [rows, dim]), w, b };
      if (kind === 'gradient') {
        const weights = new Float32Array(rows * p);
        which.forEach((problemIndex, j) => {
          const rw = this.#problems[problemIndex]!.rowWeights;
          for (let i = 0; i < rows; i++) weights[i * p + j] = rw[start + i]!;
        });
        feeds.labels = new ort.Tensor('int64', this.#labels64.subarray(start, start + rows), [rows]);
        feeds.weights = new ort.Tensor('float32', weights, [rows, p]);
      }
      const outputs = await session.run(feeds);
      this.passes++;
      visit(outputs, start, rows);
      for (const value of Object.values(outputs)) value.dispose();
    }
  }

  /**
   * One session per kind, for any number of problems (the graphs take P from the inputs' shapes): a selection asks
   * for every P from 1 to its fold count as runs converge, and a session for each cost ~10 ms to build.
   */
  #session(kind: 'gradient' | 'predict'): Promise<OrtSession> {
    let session = this.#sessions.get(kind);
    if (!session) {
      const bytes = kind === 'gradient' ? gradientGraph(this.rows.dim, this.numClasses) : predictGraph(this.rows.dim, this.numClasses);
      session = createSession(bytes, { intraOpNumThreads: this.#threads, source: `graft softmax ${kind} graph` });
      this.#sessions.set(kind, session);
    }
    return session;
  }
}

const EMPTY = new Float32Array(0);
const EMPTY64 = new Float64Array(0);

/** Adds `source`'s values of the problems at positions `active` ( `span` values each) into theirs in `target`. */
function addProblems(target: Float64Array, source: Float32Array, active: readonly number[], span: number): void {
  active.forEach((j, at) => {
    const to = j * span;
    const from = at * span;
    for (let i = 0; i < span; i++) target[to + i] = target[to + i]! + source[from + i]!;
  });
}

/** Copies `rows` rows of one problem's K probabilities, from position `at` of `width` to position `to` of `outWidth`. */
function copyColumn(source: Float32Array, at: number, width: number, out: Float32Array, to: number, outWidth: number, rows: number, k: number): void {
  for (let row = 0; row < rows; row++) out.set(source.subarray((at + row * width) * k, (at + row * width) * k + k), (to + row * outWidth) * k);
}

/** The maximal runs of rows of positive weight, with short gaps of weight 0 (see MIN_SKIPPED_ROWS) kept inside. */
function weightedRanges(weights: Float32Array): RowRange[] {
  const ranges: [number, number][] = [];
  for (let i = 0; i < weights.length; ) {
    while (i < weights.length && !(weights[i]! > 0)) i++;
    if (i === weights.length) break;
    const start = i;
    while (i < weights.length && weights[i]! > 0) i++;
    const last = ranges.at(-1);
    if (last && start - last[1] < MIN_SKIPPED_ROWS) last[1] = i;
    else ranges.push([start, i]);
  }
  return ranges;
}

/**
 * The stretches of rows to multiply, in row order, each with the positions (in `ranges`' order) of the problems that
 * multiply it: where the problems that weigh rows change, a new stretch starts, unless it would be shorter than
 * MIN_SKIPPED_ROWS (problems whose first or last weighted rows differ by a few would otherwise cost a product each
 * for a handful of rows): a short one joins the neighbour that adds the fewest rows x problems. Stretches no problem
 * weighs are left out.
 */
function segmentsOf(ranges: readonly (readonly RowRange[])[]): { start: number; end: number; active: number[] }[] {
  const cuts = [...new Set(ranges.flat(2))].sort((a, b) => a - b);
  const segments: { start: number; end: number; active: number[] }[] = [];
  for (let i = 0; i + 1 < cuts.length; i++) {
    const [start, end] = [cuts[i]!, cuts[i + 1]!];
    segments.push({ start, end, active: ranges.flatMap((own, j) => (own.some(([s, e]) => s <= start && end <= e) ? [j] : [])) });
  }
  const length = (s: { start: number; end: number }): number => s.end - s.start;
  const added = (a: { start: number; end: number; active: number[] }, b: { start: number; end: number; active: number[] }): number =>
    length(a) * b.active.filter((j) => !a.active.includes(j)).length + length(b) * a.active.filter((j) => !b.active.includes(j)).length;
  for (;;) {
    const shortest = segments.reduce((best, s, i) => (length(s) < MIN_SKIPPED_ROWS && (best < 0 || length(s) < length(segments[best]!)) ? i : best), -1);
    if (shortest < 0 || segments.length < 2) break;
    const s = segments[shortest]!;
    const [left, right] = [segments[shortest - 1], segments[shortest + 1]];
    const into = !right || (left && added(s, left) <= added(s, right)) ? shortest - 1 : shortest + 1;
    const neighbour = segments[into]!;
    segments.splice(Math.min(shortest, into), 2, { start: Math.min(s.start, neighbour.start), end: Math.max(s.end, neighbour.end), active: [...new Set([...s.active, ...neighbour.active])].sort((a, b) => a - b) });
  }
  const joined: { start: number; end: number; active: number[] }[] = [];
  for (const segment of segments) {
    if (segment.active.length === 0) continue;
    const last = joined.at(-1);
    if (last && last.end === segment.start && last.active.join() === segment.active.join()) last.end = segment.end;
    else joined.push({ ...segment });
  }
  return joined;
}

/** Consecutive cuts as [from, to) pieces of at most `most` rows. */
function* pieces(cuts: readonly number[], most: number): Generator<RowRange> {
  for (let i = 0; i + 1 < cuts.length; i++) {
    for (let from = cuts[i]!; from < cuts[i + 1]!; from += most) yield [from, Math.min(from + most, cuts[i + 1]!)];
  }
}

const OPSET = 13;


/**
 * x [n, dim], w [dim, P*K], b [P*K], labels int64 [n], weights [n, P] (n and P given by the inputs) ->
 *   q = G' x [P*K, dim], r = colsum G [P*K], nll = sum_i w_i log p_i(label) per column [P*K], p3 = softmax [n, P, K],
 * with G = w_i (softmax(z) - onehot(label)) and z = x w + b, softmax over each problem's K logits.
 */
function gradientGraph(dim: number, classes: number): Uint8Array {
  const nodes = [
    ...logitNodes(),
    makeNode('LogSoftmax', ['z3'], ['logp3'], { attributes: { axis: { int: 2 } } }),
    makeNode('Exp', ['logp3'], ['p3']),
    makeNode('OneHot', ['labels', 'depth', 'onoff'], ['onehot'], { attributes: { axis: { int: -1 } } }),
    makeNode('Unsqueeze', ['onehot', 'axis1'], ['onehot3']),
    makeNode('Unsqueeze', ['weights', 'axis2'], ['weights3']),
    makeNode('Mul', ['onehot3', 'weights3'], ['target3']),
    makeNode('Mul', ['p3', 'weights3'], ['pw3']),
    makeNode('Sub', ['pw3', 'target3'], ['g3']),
    makeNode('Reshape', ['g3', 'shape2'], ['g']),
    // g' x rather than x' g: the same product with the large matrix as the right operand, as it lies; for 2 080 rows
    // x 2 560 dims x 158 columns on 2 cores the product alone is 1.6x faster, a whole pass ~10% (bench/RESULTS.md).
    makeNode('Gemm', ['g', 'x'], ['q'], { attributes: { transA: { int: 1 } } }),
    makeNode('ReduceSum', ['g', 'axis0'], ['r'], { attributes: { keepdims: { int: 0 } } }),
    makeNode('Mul', ['target3', 'logp3'], ['tl3']),
    makeNode('Reshape', ['tl3', 'shape2'], ['tl']),
    makeNode('ReduceSum', ['tl', 'axis0'], ['nll'], { attributes: { keepdims: { int: 0 } } }),
  ];
  const graph = onnx.GraphProto.create({
    name: 'graft_softmax_gradient',
    node: nodes,
    initializer: [
      ...shapeInitializers(classes),
      makeInt64Initializer('depth', [], [classes]),
      onnx.TensorProto.create({ name: 'onoff', dims: [2], dataType: 1, floatData: [0, 1] }),
      makeInt64Initializer('axis0', [1], [0]),
      makeInt64Initializer('axis1', [1], [1]),
      makeInt64Initializer('axis2', [1], [2]),
    ],
    input: [
      makeFloatValueInfo('x', [null, dim]),
      makeFloatValueInfo('w', [dim, 'M']),
      makeFloatValueInfo('b', ['M']),
      onnx.ValueInfoProto.create({ name: 'labels', type: { tensorType: { elemType: 7, shape: { dim: [{ dimParam: 'N' }] } } } }),
      makeFloatValueInfo('weights', [null, 'P']),
    ],
    output: [makeFloatValueInfo('q', ['M', dim]), makeFloatValueInfo('r', ['M']), makeFloatValueInfo('nll', ['M']), makeFloatValueInfo('p3', [null, 'P', classes])],
  });
  return encodeOnnxModel(onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: OPSET }], graph }));
}

/** x [n, dim], w [dim, P*K], b [P*K] -> probabilities [n, P, K]. */
function predictGraph(dim: number, classes: number): Uint8Array {
  const graph = onnx.GraphProto.create({
    name: 'graft_softmax_predict',
    node: [...logitNodes(), makeNode('Softmax', ['z3'], ['probabilities'], { attributes: { axis: { int: 2 } } })],
    initializer: [shapeInitializers(classes)[0]!],
    input: [makeFloatValueInfo('x', [null, dim]), makeFloatValueInfo('w', [dim, 'M']), makeFloatValueInfo('b', ['M'])],
    output: [makeFloatValueInfo('probabilities', [null, 'P', classes])],
  });
  return encodeOnnxModel(onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: OPSET }], graph }));
}

/** z3 = reshape(x w + b, [n, P, K]). */
function logitNodes() {
  return [makeNode('MatMul', ['x', 'w'], ['xw']), makeNode('Add', ['xw', 'b'], ['z']), makeNode('Reshape', ['z', 'shape3'], ['z3'])];
}

/** [n, P*K] <-> [n, P, K]: 0 keeps the row count, -1 infers P (or P*K). */
function shapeInitializers(classes: number) {
  return [makeInt64Initializer('shape3', [3], [0, -1, classes]), makeInt64Initializer('shape2', [2], [0, -1])];
}
