/** Runs `count` images laid out back to back in `input`; returns `count * outputSize` floats. */
export type BatchRun = (input: Float32Array, count: number) => Promise<Float32Array>;

export interface DynamicBatcherOptions {
  /** Floats per input image (e.g. 224 * 224 * 3). */
  readonly itemSize: number;
  /** Floats per output row (the number of classes). */
  readonly outputSize: number;
  /** Most images in one run. Defaults to 32. */
  readonly maxBatch?: number;
  /** How long the first image of an idle model waits for company. Defaults to 3 ms. */
  readonly windowMs?: number;
  /** Called after each run with its size and duration. */
  readonly onBatch?: (size: number, seconds: number) => void;
}

/** One image's result and the run it was part of. */
export interface BatchedResult {
  readonly row: Float32Array;
  readonly inferenceMs: number;
  readonly batchSize: number;
}

interface Pending {
  readonly input: Float32Array;
  readonly resolve: (result: BatchedResult) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Gathers images from concurrent requests into one onnxruntime run. One run per model at a time (a
 * session already uses both cores): while it runs, new images queue, and the next run takes them all at
 * once (up to maxBatch) without waiting. Only an idle model waits `windowMs` for more images, so a lone
 * client pays at most that.
 */
export class DynamicBatcher {
  private readonly queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private isRunning = false;
  private idleWaiters: (() => void)[] = [];
  private readonly maxBatch: number;
  private readonly windowMs: number;

  constructor(
    private readonly run: BatchRun,
    private readonly options: DynamicBatcherOptions,
  ) {
    this.maxBatch = options.maxBatch ?? 32;
    this.windowMs = options.windowMs ?? 3;
    if (!Number.isInteger(this.maxBatch) || this.maxBatch < 1) throw new RangeError(`maxBatch must be a positive integer. Received: ${this.maxBatch}`);
    if (!(this.windowMs >= 0)) throw new RangeError(`windowMs must be >= 0. Received: ${this.windowMs}`);
  }

  /** Queues one decoded image (`itemSize` floats). */
  submit(input: Float32Array): Promise<BatchedResult> {
    if (input.length !== this.options.itemSize) {
      return Promise.reject(new RangeError(`input must hold ${this.options.itemSize} floats. Received: ${input.length}`));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once nothing is queued or running. */
  whenIdle(): Promise<void> {
    if (!this.isRunning && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.isRunning) return;
    if (this.queue.length >= this.maxBatch || this.windowMs === 0) {
      this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.windowMs);
    }
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.isRunning || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.maxBatch);
    this.isRunning = true;
    void this.runBatch(batch).finally(() => {
      this.isRunning = false;
      if (this.queue.length) {
        // These images already waited for a whole run: no window for them.
        this.flush();
      } else {
        for (const resolve of this.idleWaiters.splice(0)) resolve();
      }
    });
  }

  private async runBatch(batch: Pending[]): Promise<void> {
    const { itemSize, outputSize } = this.options;
    const input = new Float32Array(batch.length * itemSize);
    batch.forEach((p, i) => input.set(p.input, i * itemSize));
    const started = performance.now();
    try {
      const output = await this.run(input, batch.length);
      const inferenceMs = performance.now() - started;
      this.options.onBatch?.(batch.length, inferenceMs / 1000);
      batch.forEach((p, i) => p.resolve({ row: output.slice(i * outputSize, (i + 1) * outputSize), inferenceMs, batchSize: batch.length }));
    } catch (error) {
      for (const p of batch) p.reject(error);
    }
  }
}
