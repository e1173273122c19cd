import * as ort from 'onnxruntime-node';
import { GraftError } from '../core/errors.js';
import type { Layout } from '../core/preprocessing.js';

/** Options Graft exposes for onnxruntime sessions; everything else is fixed to the measured best. */
export interface OrtSessionOptions {
  /**
   * Intra-op threads. Defaults to 2. On the 2-core target, one session with 2 non-spinning intra-op
   * threads measured within ~3% of 2 worker_threads x 1 thread (bench/ort-threads.mjs), with one
   * session's memory and no worker plumbing, so Graft uses the simpler path.
   */
  readonly intraOpNumThreads?: number;
  /**
   * Let idle pool threads spin waiting for work (onnxruntime's default). Defaults to false: spinning
   * threads steal the cores that sharp decodes on, and under load (decoding, other processes) a
   * spinning 2-thread session measured 1.4-1.7x slower than a non-spinning one (bench/ort-threads.mjs).
   * Set true only on an otherwise idle machine.
   */
  readonly allowSpinning?: boolean;
  /** Shown in errors instead of "the ONNX model" when bytes are passed. */
  readonly source?: string;
}

/** Input geometry for a batch; when absent it comes from the model's declared input shape. */
export interface InputGeometry {
  readonly inputSize: number;
  readonly layout: Layout;
}

export type OrtSession = ort.InferenceSession;

/**
 * Creates an onnxruntime-node session with Graft's settings: graphOptimizationLevel 'all' (~1.75x over
 * the default here, ARCHITECTURE.md), sequential execution ('parallel' measured slower), one inter-op thread.
 *
 * @param model ONNX bytes or a file path.
 * @throws GraftError `UNSUPPORTED_MODEL` when onnxruntime cannot load the model; the message names it.
 */
export async function createSession(model: Uint8Array | string, options: OrtSessionOptions = {}): Promise<OrtSession> {
  const intraOpNumThreads = options.intraOpNumThreads ?? 2;
  if (!Number.isInteger(intraOpNumThreads) || intraOpNumThreads < 1) {
    throw new RangeError(`intraOpNumThreads must be a positive integer. Received: ${intraOpNumThreads}`);
  }
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads,
    interOpNumThreads: 1,
    ...(options.allowSpinning ? {} : { extra: { session: { intra_op: { allow_spinning: '0' } } } }),
  };
  const source = typeof model === 'string' ? model : (options.source ?? 'the ONNX model');
  try {
    // Two calls that read alike: create's overloads take a path or the bytes, not their union.
    return typeof model === 'string'
      ? await ort.InferenceSession.create(model, sessionOptions)
      : await ort.InferenceSession.create(model, sessionOptions);
  } catch (cause) {
    throw new GraftError(
      'UNSUPPORTED_MODEL',
      `onnxruntime cannot load "${source}": ${cause instanceof Error ? cause.message : String(cause)}`,
      { hint: 'check that the file is a complete ONNX model with opset <= 21 and standard or com.microsoft ops', cause },
    );
  }
}

/** The severities of onnxruntime's native logger, from the most to the least it prints. */
export type OnnxruntimeLogLevel = 'verbose' | 'info' | 'warning' | 'error' | 'fatal';

/**
 * Sets what onnxruntime's native logger prints, for the whole process: it writes to stderr (fd 2) itself, where no
 * JavaScript can catch a line, e.g. "[W:onnxruntime:, graph.cc:5607 CleanUnusedInitializersAndNodeArgs] Removing
 * initializer ..." for every session of a model with an unused weight. onnxruntime reads it once, when the first
 * session makes its environment, so a later call changes nothing. Its default is 'warning'. Every failure it logs at
 * 'error' also rejects the call that met it, with the same message.
 */
export function setOnnxruntimeLogLevel(level: OnnxruntimeLogLevel): void {
  ort.env.logLevel = level;
}

/**
 * Dims of a batch of `count` images for the session's first input: from `geometry` when given,
 * otherwise from the model's declared shape with the batch dim set to `count`.
 *
 * @throws RangeError when `input` does not hold `count` images of that shape.
 */
export function batchDims(session: OrtSession, input: Float32Array, count: number, geometry?: InputGeometry): number[] {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`count must be a positive integer. Received: ${count}`);
  let dims: number[];
  if (geometry) {
    const { inputSize: s, layout } = geometry;
    dims = layout === 'nchw' ? [count, 3, s, s] : [count, s, s, 3];
  } else {
    const meta = session.inputMetadata[0];
    const shape = meta && meta.isTensor ? meta.shape : undefined;
    if (!shape || shape.slice(1).some((d) => typeof d !== 'number' || d < 1)) {
      throw new GraftError(
        'UNSUPPORTED_MODEL',
        `The model's input "${session.inputNames[0]}" has no fixed image shape (declared: [${shape?.join(', ') ?? 'none'}]).`,
        { hint: 'pass the input size and layout (the manifest preprocessing) so the batch shape is known' },
      );
    }
    dims = [count, ...(shape.slice(1) as number[])];
  }
  const expected = dims.reduce((a, b) => a * b, 1);
  if (input.length !== expected) {
    throw new RangeError(`input must hold ${count} images of shape [${dims.slice(1).join(', ')}] = ${expected} floats. Received: ${input.length}`);
  }
  return dims;
}

/** The batch size the model's first input declares: a number when fixed, undefined when symbolic or unknown. */
export function declaredBatch(session: OrtSession): number | undefined {
  const meta = session.inputMetadata[0];
  const first = meta && meta.isTensor ? meta.shape[0] : undefined;
  return typeof first === 'number' && first > 0 ? first : undefined;
}

/**
 * Runs one batch and copies one output out of onnxruntime's memory. A model whose batch is fixed at 1 is run
 * once per image.
 *
 * @returns `count * (values per image)` floats, row-major.
 */
export async function runOutput(
  session: OrtSession,
  input: Float32Array,
  count: number,
  outputName: string,
  geometry?: InputGeometry,
): Promise<Float32Array> {
  if (!session.outputNames.includes(outputName)) {
    throw new GraftError(
      'UNSUPPORTED_MODEL',
      `The model has no output "${outputName}". Its outputs: ${session.outputNames.join(', ')}.`,
      { hint: 'pass --feature-output <tensor name>, or re-export the model with that output' },
    );
  }
  const dims = batchDims(session, input, count, geometry);
  const fixedBatch = declaredBatch(session);
  if (fixedBatch !== undefined && fixedBatch !== 1 && fixedBatch !== count) {
    throw new GraftError('UNSUPPORTED_MODEL', `The model's input "${session.inputNames[0]}" has its batch fixed at ${fixedBatch}; Graft runs batches of any size. Received: ${count} image(s).`, {
      hint: 'export the model with a dynamic batch dimension (or with batch 1, which Graft runs one image at a time)',
    });
  }
  if (count > 1 && fixedBatch === 1) {
    // A model exported with its batch fixed at 1 (often with Reshape nodes that hard-code it, so the input's
    // shape cannot just be relaxed) runs one image at a time; the rows are the same as a batch would give.
    const perImage = input.length / count;
    const rows: Float32Array[] = [];
    for (let i = 0; i < count; i++) rows.push(await runOutput(session, input.subarray(i * perImage, (i + 1) * perImage), 1, outputName, geometry));
    const out = new Float32Array(rows.reduce((n, r) => n + r.length, 0));
    rows.reduce((offset, r) => (out.set(r, offset), offset + r.length), 0);
    return out;
  }
  const feed = new ort.Tensor('float32', input, dims);
  const results = await session.run({ [session.inputNames[0]!]: feed }, [outputName]);
  const tensor = results[outputName];
  try {
    if (!tensor || tensor.type !== 'float32') {
      throw new GraftError('UNSUPPORTED_MODEL', `Output "${outputName}" is ${tensor?.type ?? 'missing'}, expected float32.`);
    }
    // Copy: the result aliases memory onnxruntime may reuse on the next run.
    return new Float32Array(tensor.data as Float32Array);
  } finally {
    for (const value of Object.values(results)) value.dispose();
  }
}

/**
 * Runs a Graft model (backbone + head, see appendDenseHead) and returns its `probabilities` output:
 * `count * classes` floats.
 */
export function runProbabilities(
  session: OrtSession,
  input: Float32Array,
  count: number,
  geometry?: InputGeometry,
): Promise<Float32Array> {
  return runOutput(session, input, count, 'probabilities', geometry);
}
