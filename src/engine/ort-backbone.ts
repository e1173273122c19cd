import { GraftError } from '../core/errors.js';
import type { Backbone, BackboneInfo } from './backbone.js';
import { createSession, runOutput, type OrtSession } from '../runtime/ort-session.js';

export interface OrtBackboneOptions {
  /**
   * Intra-op threads of the session. Defaults to 2. One session with 2 intra-op threads was chosen
   * over 2 worker_threads x 1 thread: they measured within ~3% of each other (bench/ort-threads.mjs).
   */
  readonly intraOpNumThreads?: number;
  /** Let onnxruntime's idle threads spin. Defaults to false; see `OrtSessionOptions.allowSpinning`. */
  readonly allowSpinning?: boolean;
}

/**
 * A frozen backbone run by onnxruntime-node: the fast path for every forward pass (ARCHITECTURE.md, decision 1).
 *
 * The model must declare `info.featureOutput` as a graph output (see exposeFeatures). Input batches are
 * packed in `info.preprocessing.layout` (NCHW or NHWC) at `info.preprocessing.inputSize`.
 *
 * @example
 * // The ONNX bytes and info of an opened backbone: its graph already has the feature vector as an output.
 * const handle = await backboneFromOptions({ backbone: 'mobilenet_v2', cacheDir });
 * const backbone = await OrtBackbone.create(await handle.onnxBytes(), { ...handle.info, featureOutput: handle.onnxFeatureOutput });
 * try {
 *   const features = await backbone.embed(batch, 8); // 8 * featureDim floats
 * } finally {
 *   await backbone.dispose();
 * }
 */
export class OrtBackbone implements Backbone {
  readonly info: BackboneInfo;
  #session: OrtSession | undefined;

  private constructor(session: OrtSession, info: BackboneInfo) {
    this.#session = session;
    this.info = info;
  }

  /**
   * Loads the model into an onnxruntime session (graphOptimizationLevel 'all', sequential).
   *
   * @param model ONNX bytes, or a path to an ONNX file.
   * @throws GraftError `UNSUPPORTED_MODEL` when onnxruntime cannot load it or it lacks `info.featureOutput`.
   */
  static async create(model: Uint8Array | string, info: BackboneInfo, options: OrtBackboneOptions = {}): Promise<OrtBackbone> {
    if (!Number.isInteger(info.featureDim) || info.featureDim < 1) {
      throw new RangeError(`info.featureDim must be a positive integer. Received: ${info.featureDim}`);
    }
    const session = await createSession(model, {
      source: typeof model === 'string' ? model : info.source,
      ...(options.intraOpNumThreads === undefined ? {} : { intraOpNumThreads: options.intraOpNumThreads }),
      ...(options.allowSpinning === undefined ? {} : { allowSpinning: options.allowSpinning }),
    });
    if (!session.outputNames.includes(info.featureOutput)) {
      const outputs = session.outputNames.join(', ');
      await session.release();
      throw new GraftError(
        'UNSUPPORTED_MODEL',
        `Backbone "${info.name}" (${info.source}) has no output "${info.featureOutput}". Its outputs: ${outputs}.`,
        { hint: 'expose the feature tensor as an output first (exposeFeatures), or pass --feature-output <tensor name>' },
      );
    }
    return new OrtBackbone(session, info);
  }

  /**
   * Runs one batch (callers choose the batch size; 8-32 measured best here).
   *
   * @returns `count * featureDim` floats, copied out of onnxruntime.
   * @throws RangeError when `input` does not hold `count` images; GraftError `INTERNAL` after dispose().
   */
  async embed(input: Float32Array, count: number): Promise<Float32Array> {
    const session = this.#session;
    if (!session) throw new GraftError('INTERNAL', `Backbone "${this.info.name}" was disposed; create a new one.`);
    const { inputSize, layout } = this.info.preprocessing;
    const features = await runOutput(session, input, count, this.info.featureOutput, { inputSize, layout });
    if (features.length !== count * this.info.featureDim) {
      throw new GraftError(
        'UNSUPPORTED_MODEL',
        `Backbone "${this.info.name}" output "${this.info.featureOutput}" has ${features.length / count} values per image; its info says featureDim ${this.info.featureDim}.`,
        { hint: 'the model or its recorded featureDim changed; import the backbone again' },
      );
    }
    return features;
  }

  /** Releases the onnxruntime session. Safe to call twice. */
  async dispose(): Promise<void> {
    const session = this.#session;
    this.#session = undefined;
    if (session) await session.release();
  }
}
