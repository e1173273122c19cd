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

/** One block of rows' probabilities from a gradient pass: [count, problems, K] floats for rows start.. */
interface ProbabilityBlock {
  readonly p3: Float32Array;
  readonly start: number;
  readonly count: number;
}

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
   * One past each problem's last row of positive weight. A pass for problems that weigh no row past some point stops
   * there: the mirror rows a 'plain' candidate of a cross-validation does not train on follow the plain ones, and
   * rows of weight 0 add nothing to a value or gradient.
   */
  readonly #extents: number[] = [];
  readonly #threads: number;
  readonly #blockRows: number;
  readonly #sessions = new Map<string, Promise<OrtSession>>();
  readonly #labels64: BigInt64Array;
  /**
   * Each problem's last evaluated point and that pass's probability outputs, in which it is column `column` of
   * `problems`. An L-BFGS run ends on a point it has evaluated, so scoring it afterwards (predict) is served from here
   * without another pass over the rows.
   */
  readonly #last = new Map<number, { point: Float64Array; blocks: readonly ProbabilityBlock[]; column: number; problems: number; end: number }>();
  readonly #buffers = new Map<number, { q: Float64Array; r: Float64Array; nll: Float64Array; weight: Float32Array; bias: Float32Array }>();
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
    let extent = count;
    while (!(problem.rowWeights[extent - 1]! > 0)) extent--;
    this.#problems.push(problem);
    this.#weightSums.push(weightSum);
    this.#extents.push(extent);
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
    const { q, r, nll } = this.#accumulators(dim * m, m);
    // The probabilities are kept as onnxruntime returned them, for predict at a converged point: copying each
    // problem's out at every pass was ~5% of a selection, and only the last pass of each is ever read.
    const blocks: ProbabilityBlock[] = [];
    const end = Math.max(...which.map((p) => this.#extents[p]!));
    which.forEach((problemIndex, j) => this.#last.set(problemIndex, { point: points[j]!, blocks, column: j, problems: which.length, end }));
    await this.#forEachBlock(which, 'gradient', folded, { start: 0, end }, (outputs, start, count) => {
      addInto(q, outputs.q!.data as Float32Array);
      addInto(r, outputs.r!.data as Float32Array);
      addInto(nll, outputs.nll!.data as Float32Array);
      blocks.push({ p3: outputs.p3!.data as Float32Array, start, count });
    });
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
      for (let i = 0; i < dim; i++) {
        const mean = problem.mean[i]!;
        const inv = 1 / problem.std[i]!;
        for (let c = 0; c < k; c++) {
          const w = point[i * k + c]!;
          penalty += w * w;
          // d/dW of the folded weights W/std and bias b - mean . W/std.
          gradient[i * k + c] = ((q[i * m + j * k + c]! - mean * r[j * k + c]!) * inv) / s + lambda * w;
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
    const kept = which.map((problemIndex, j) => {
      const last = this.#last.get(problemIndex);
      return last && last.point === points[j] ? last : undefined;
    });
    // The rows the last gradient pass of every problem covered are served from it; only the rest take a pass.
    let served = 0;
    if (kept.every((p) => p !== undefined)) {
      served = Math.min(...kept.map((p) => p.end));
      const k = this.numClasses;
      const out = new Float32Array(served * which.length * k);
      kept.forEach(({ blocks, column, problems }, j) => {
        for (const { p3, start, count } of blocks) {
          for (let row = 0; row < Math.min(count, served - start); row++) {
            const from = (row * problems + column) * k;
            const to = ((start + row) * which.length + j) * k;
            for (let c = 0; c < k; c++) out[to + c] = p3[from + c]!;
          }
        }
      });
      visit(0, served, out);
    }
    if (served === this.rows.count) return;
    const folded = this.#fold(which, points);
    await this.#forEachBlock(which, 'predict', folded, { start: served, end: this.rows.count }, (outputs, start, count) => visit(start, count, outputs.probabilities!.data as Float32Array));
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

  #accumulators(size: number, m: number): { q: Float64Array; r: Float64Array; nll: Float64Array; weight: Float32Array; bias: Float32Array } {
    let buffers = this.#buffers.get(m);
    if (!buffers) {
      buffers = { q: new Float64Array(size), r: new Float64Array(m), nll: new Float64Array(m), weight: new Float32Array(size), bias: new Float32Array(m) };
      this.#buffers.set(m, buffers);
    }
    buffers.q.fill(0);
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

function addInto(target: Float64Array, source: Float32Array): void {
  for (let i = 0; i < target.length; i++) target[i] = target[i]! + source[i]!;
}

const OPSET = 13;


/**
 * x [n, dim], w [dim, P*K], b [P*K], labels int64 [n], weights [n, P] (n and P given by the inputs) ->
 *   q = x' G [dim, P*K], r = colsum G [P*K], nll = sum_i w_i log p_i(label) per column [P*K], p3 = softmax [n, P, K],
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
    makeNode('Gemm', ['x', 'g'], ['q'], { attributes: { transA: { int: 1 } } }),
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
    output: [makeFloatValueInfo('q', [dim, 'M']), makeFloatValueInfo('r', ['M']), makeFloatValueInfo('nll', ['M']), makeFloatValueInfo('p3', [null, 'P', classes])],
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
