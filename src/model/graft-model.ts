import { join } from 'node:path';
import { readAndDecode } from '../data/decode-stream.js';
import { decodeImageBytes } from '../data/decode-image.js';
import type { SkippedFile } from '../data/dataset.js';
import { createSession, runProbabilities, type OrtSession } from '../runtime/ort-session.js';
import { GraftError } from '../core/errors.js';
import { refuseUnknownKeys } from '../core/unknown-options.js';
import type { ProgressListener } from '../core/progress.js';
import { MANIFEST_FILE, readModelDir, requireManifestInputOutput, requireProbabilityPerLabel, type ModelManifest } from './manifest.js';

/** One class and its probability. */
export interface LabelProbability {
  readonly label: string;
  readonly probability: number;
}

/** `graft predict --json` prints an array of these. */
export interface FilePrediction {
  readonly file: string;
  readonly predictions: LabelProbability[];
}

export interface ProbabilityRun {
  /** Row-major `files.length x labels.length`; rows of skipped files are NaN. */
  readonly probabilities: Float32Array;
  readonly skipped: SkippedFile[];
}

/**
 * A trained model directory, loaded: the manifest plus an onnxruntime session over model.onnx (backbone + head).
 * Needs nothing but the directory; preprocessing comes from the manifest.
 *
 * @example
 * const model = await GraftModel.load('./bees-model');
 * const { results: [result], skipped } = await model.predict(['photo.jpg'], { topK: 3 });
 * result?.predictions[0]; // { label: 'bees', probability: 0.98 }
 * await model.dispose();
 */
export class GraftModel {
  readonly dir: string;
  readonly manifest: ModelManifest;
  private session: OrtSession | undefined;

  private constructor(dir: string, manifest: ModelManifest, session: OrtSession) {
    this.dir = dir;
    this.manifest = manifest;
    this.session = session;
  }

  /** @throws GraftError INVALID_MODEL_DIR naming the directory and the missing or damaged file. */
  static async load(dir: string): Promise<GraftModel> {
    const { root, manifest, manifestPath, onnxPath } = await readModelDir(dir);
    const session = await createSession(onnxPath).catch((cause: unknown) => {
      // graft train wrote this file whole (temp file, then rename): a file onnxruntime cannot read was damaged since.
      throw new GraftError('INVALID_MODEL_DIR', `${onnxPath} is damaged: onnxruntime cannot load it (${cause instanceof Error ? cause.message : String(cause)})`, {
        hint: 'copy the model directory again, or train again',
        cause,
      });
    });
    try {
      requireManifestInputOutput(session, manifest, { onnxPath, manifestPath });
    } catch (error) {
      await session.release();
      throw error;
    }
    return new GraftModel(root, manifest, session);
  }

  get labels(): readonly string[] {
    return this.manifest.labels;
  }

  /**
   * Class probabilities for each file, in batches, decoding several files while the model runs.
   * Unreadable files are skipped and reported, never thrown.
   * @param options.batchSize images per forward pass (an integer of 1 or more; default 16).
   * @param options.signal stops the run between images: it rejects with GraftError `CANCELLED`.
   */
  async probabilities(files: readonly string[], options: PredictOptions = {}): Promise<ProbabilityRun> {
    this.requireSession();
    // A caller's slips, said as such (a string is not a list: its letters were read as files).
    if (!Array.isArray(files) || files.some((file) => typeof file !== 'string')) {
      throw new GraftError('INVALID_CONFIG', `The files to predict must be an array of paths. Received: ${Array.isArray(files) ? `an array holding ${typeof files.find((file) => typeof file !== 'string')}` : JSON.stringify(files)}`, { hint: "e.g. model.predict(['bee.jpg'])" });
    }
    refuseUnknownKeys('predict', options as PredictOptions & { topK?: number }, PREDICT_OPTIONS);
    const pre = this.manifest.preprocessing;
    const k = this.labels.length;
    const batchSize = options.batchSize ?? 16;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new GraftError('INVALID_CONFIG', `batchSize must be an integer of 1 or more. Received: ${batchSize}`);
    requireNotCancelled(options.signal);
    const out = new Float32Array(files.length * k).fill(Number.NaN);
    const skipped: SkippedFile[] = [];
    const imageSize = pre.inputSize ** 2 * 3;
    let batch: { index: number; data: Float32Array }[] = [];
    let done = 0;
    const started = performance.now();
    // As extraction does: listeners (the CLI's bar, a caller's own) see the total before the first batch.
    options.onProgress?.({ type: 'extract-start', total: files.length });
    let lastReported = 0;
    // Skipped files count as done, so the bar reaches its total.
    const report = (): void => {
      lastReported = done + skipped.length;
      options.onProgress?.({ type: 'extract', done: lastReported, total: files.length, cached: 0, computed: done, imgPerSec: done / ((performance.now() - started) / 1000) });
    };
    const flush = async (): Promise<void> => {
      if (!batch.length) return;
      const input = new Float32Array(batch.length * imageSize);
      batch.forEach((b, i) => input.set(b.data, i * imageSize));
      const probs = await this.run(input, batch.length);
      batch.forEach((b, i) => out.set(probs.subarray(i * k, (i + 1) * k), b.index * k));
      done += batch.length;
      batch = [];
      report();
    };
    const stream = readAndDecode(files, pre, {
      onSkip: ({ file, reason }) => {
        // A long run of unreadable files yields nothing to the loop below: the cancel is checked here too.
        requireNotCancelled(options.signal);
        skipped.push({ file, reason });
        options.onProgress?.({ type: 'skip', file, reason });
      },
    });
    for await (const item of stream) {
      requireNotCancelled(options.signal);
      batch.push({ index: item.index, data: item.data! });
      if (batch.length >= batchSize) await flush();
    }
    await flush();
    // Files skipped after the last batch count too: the bar ends at its total, not one short.
    if (done + skipped.length > lastReported) report();
    return { probabilities: out, skipped };
  }

  /** Top-k labels per file (files that cannot be read are reported in `skipped`). */
  async predict(files: readonly string[], options: PredictOptions & { topK?: number } = {}): Promise<{ results: FilePrediction[]; skipped: SkippedFile[] }> {
    checkTopK(options.topK ?? 5);
    const { probabilities, skipped } = await this.probabilities(files, options);
    const k = this.labels.length;
    const results: FilePrediction[] = [];
    files.forEach((file, i) => {
      const row = probabilities.subarray(i * k, (i + 1) * k);
      if (Number.isNaN(row[0])) return;
      results.push({ file, predictions: topLabels(row, this.labels, options.topK ?? 5) });
    });
    return { results, skipped };
  }

  /** Top-k labels for one image held in memory (the server's path): a Buffer, any Uint8Array, or `await response.arrayBuffer()`. */
  async predictBytes(bytes: Uint8Array | ArrayBuffer, options: { topK?: number; name?: string } = {}): Promise<LabelProbability[]> {
    if (!(bytes instanceof Uint8Array || bytes instanceof ArrayBuffer)) {
      throw new GraftError('INVALID_CONFIG', `predictBytes takes the image's bytes (a Buffer, Uint8Array or ArrayBuffer). Received: ${typeof bytes}`, { hint: 'for a file, use predict([path]); or pass await readFile(path)' });
    }
    const pre = this.manifest.preprocessing;
    const buffer = Buffer.isBuffer(bytes) ? bytes : bytes instanceof ArrayBuffer ? Buffer.from(bytes) : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const data = await decodeImageBytes(buffer, pre, { name: options.name ?? '<upload>' });
    const probs = await this.run(data, 1);
    return topLabels(probs, this.labels, options.topK ?? 5);
  }

  async dispose(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    await session?.release();
  }

  /** The model's probabilities, checked against the labels: an edited graft.json must not shift classes silently. */
  private async run(input: Float32Array, count: number): Promise<Float32Array> {
    const probs = await runProbabilities(this.requireSession(), input, count, this.manifest.preprocessing);
    requireProbabilityPerLabel(probs, count, this.labels, { onnxPath: join(this.dir, this.manifest.files.onnx), manifestPath: join(this.dir, MANIFEST_FILE) });
    return probs;
  }

  private requireSession(): OrtSession {
    if (!this.session) throw new GraftError('INVALID_CONFIG', `The model at ${this.dir} was disposed`, { hint: 'load it again with GraftModel.load; dispose() a model once nothing uses it' });
    return this.session;
  }
}

/** Every option predict and probabilities read. */
const PREDICT_OPTIONS: Record<keyof (PredictOptions & { topK?: number }), true> = { batchSize: true, onProgress: true, signal: true, topK: true };

/** Options of {@link GraftModel.probabilities} and {@link GraftModel.predict}. */
export interface PredictOptions {
  readonly batchSize?: number;
  readonly onProgress?: ProgressListener;
  readonly signal?: AbortSignal;
}

function requireNotCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new GraftError('CANCELLED', 'Prediction was cancelled');
}

function checkTopK(topK: number): void {
  if (!Number.isInteger(topK) || topK < 1) throw new GraftError('INVALID_CONFIG', `topK must be an integer of 1 or more. Received: ${topK}`);
}

/** The `topK` most probable labels, most probable first (ties: lower index first). */
export function topLabels(row: ArrayLike<number>, labels: readonly string[], topK: number): LabelProbability[] {
  checkTopK(topK);
  return Array.from(labels, (label, i) => ({ label, probability: row[i]!, i }))
    .sort((a, b) => b.probability - a.probability || a.i - b.i)
    .slice(0, Math.max(1, Math.min(topK, labels.length)))
    .map(({ label, probability }) => ({ label, probability }));
}
