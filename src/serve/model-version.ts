import { createSession, runProbabilities, type OrtSession } from '../runtime/ort-session.js';
import { readModelDir, requireManifestInputOutput, requireProbabilityPerLabel, type ModelManifest } from '../model/manifest.js';
import { DynamicBatcher } from './dynamic-batcher.js';

export interface ModelVersionOptions {
  readonly maxBatch?: number;
  readonly batchWindowMs?: number;
  readonly onBatch?: (size: number, seconds: number) => void;
}

/**
 * One loaded copy of a model directory: its manifest, an onnxruntime session and the batcher in front of
 * it. A hot reload makes a new version; the old one is disposed once its last in-flight request releases it.
 */
export class ModelVersion {
  readonly manifest: ModelManifest;
  readonly batcher: DynamicBatcher;
  readonly loadedAt: Date;
  private inFlight = 0;
  private isRetired = false;
  private disposed: Promise<void> | undefined;

  private constructor(
    manifest: ModelManifest,
    private readonly session: OrtSession,
    options: ModelVersionOptions,
  ) {
    this.manifest = manifest;
    this.loadedAt = new Date();
    const pre = manifest.preprocessing;
    this.batcher = new DynamicBatcher((input, count) => runProbabilities(session, input, count, pre), {
      itemSize: pre.inputSize * pre.inputSize * 3,
      outputSize: manifest.labels.length,
      maxBatch: options.maxBatch,
      windowMs: options.batchWindowMs,
      onBatch: options.onBatch,
    });
  }

  /**
   * Reads graft.json and model.onnx, and runs one blank image through the model to check that it answers
   * with one probability per label (this also catches a directory caught half-copied during a reload).
   *
   * @throws GraftError INVALID_MODEL_DIR naming the directory and what is wrong.
   */
  static async load(dir: string, options: ModelVersionOptions = {}): Promise<ModelVersion> {
    const { manifest, manifestPath, onnxPath } = await readModelDir(dir);
    const session = await createSession(onnxPath);
    const pre = manifest.preprocessing;
    try {
      requireManifestInputOutput(session, manifest, { onnxPath, manifestPath });
      const probe = await runProbabilities(session, new Float32Array(pre.inputSize * pre.inputSize * 3), 1, pre);
      requireProbabilityPerLabel(probe, 1, manifest.labels, { onnxPath, manifestPath });
    } catch (error) {
      await session.release();
      throw error;
    }
    return new ModelVersion(manifest, session, options);
  }

  get labels(): readonly string[] {
    return this.manifest.labels;
  }

  /** Marks a request as using this version; pair with {@link release}. */
  acquire(): this {
    this.inFlight++;
    return this;
  }

  release(): void {
    this.inFlight--;
    if (this.isRetired && this.inFlight === 0) void this.dispose();
  }

  /** No new requests will come; dispose when the last in-flight one releases. */
  retire(): void {
    this.isRetired = true;
    if (this.inFlight === 0) void this.dispose();
  }

  dispose(): Promise<void> {
    this.disposed ??= this.batcher.whenIdle().then(() => this.session.release());
    return this.disposed;
  }
}
