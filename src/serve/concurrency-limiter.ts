import { ServeError } from './serve-error.js';

/**
 * At most `limit` tasks at once, the rest wait in arrival order, and at most `maxWaiting` of them: past that a task is
 * refused at once (503 BUSY) rather than queued behind minutes of work. The server uses one for decoding: sharp
 * and onnxruntime share the cores, and 32 decodes at once only slow the run in progress and make the latency tail
 * depend on scheduling luck instead of arrival order. A waiting task whose `signal` aborts (its request timed out,
 * or its client hung up) leaves the queue without running.
 */
export class ConcurrencyLimiter {
  private running = 0;
  /** The waiting tasks' start signals, in arrival order. */
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly limit: number,
    readonly maxWaiting = Number.POSITIVE_INFINITY,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer. Received: ${limit}`);
    if (!(maxWaiting >= 0)) throw new RangeError(`maxWaiting must be >= 0. Received: ${maxWaiting}`);
  }

  /** Tasks queued, not yet started. */
  get queued(): number {
    return this.waiting.length;
  }

  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted();
    if (this.running >= this.limit) {
      if (this.waiting.length >= this.maxWaiting) {
        throw new ServeError('BUSY', `The server is busy: ${this.waiting.length} images are waiting to be decoded.`, { hint: 'retry in a few seconds' });
      }
      await new Promise<void>((resolve, reject) => {
        this.waiting.push(resolve);
        signal?.addEventListener(
          'abort',
          () => {
            const at = this.waiting.indexOf(resolve);
            if (at >= 0) {
              this.waiting.splice(at, 1);
              reject(signal.reason);
            }
          },
          { once: true },
        );
      });
    } else {
      this.running++;
    }
    try {
      signal?.throwIfAborted();
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
