import { existsSync } from 'node:fs';
import { GraftError } from '../core/errors.js';
import type { ProgressListener } from '../core/progress.js';

/**
 * What a cancelled `train()` has kept, told in its CANCELLED error: that its `--out` was not touched (a model written
 * there before is as it was) and how many images' features it left in the cache for the next run to read.
 */
export class InterruptedRun {
  private readonly out: string;
  private readonly hadOutput: boolean;
  private cachedImages = 0;
  private isCounting = true;
  /** Images computed when the cache's disk was found full (a CACHE_FULL warning): none computed after is kept. */
  private computedWhenFull: number | undefined;
  private computed = 0;

  constructor(out: string) {
    this.out = out;
    this.hadOutput = existsSync(out);
  }

  /** `listener`, counting the images whose features the head phase's extraction has in the cache so far. */
  listen(listener: ProgressListener | undefined): ProgressListener {
    return (event) => {
      if (event.type === 'warning' && event.code === 'CACHE_FULL') this.computedWhenFull ??= this.computed;
      if (event.type === 'extract' && this.isCounting) {
        this.computed = event.computed;
        this.cachedImages = event.cached + Math.min(event.computed, this.computedWhenFull ?? Infinity);
      }
      listener?.(event);
    };
  }

  /** The head phase's features are all in: later extractions (fine-tuning's activations) are not what the count says. */
  stopCounting(): void {
    this.isCounting = false;
  }

  /** A CANCELLED error told as what was kept, with its hint (a fine-tuning checkpoint's --resume) kept; others as they are. */
  explain(error: unknown): unknown {
    if (!(error instanceof GraftError) || error.code !== 'CANCELLED') return error;
    const output = this.hadOutput ? `${this.out} is as it was` : `nothing was written to ${this.out}`;
    const isFull = this.computedWhenFull !== undefined;
    const features =
      this.cachedImages > 0
        ? `; the features of ${this.cachedImages} image${this.cachedImages === 1 ? '' : 's'} are in the feature cache${isFull ? ' (then its disk was full: those computed after were not kept)' : ''}`
        : isFull
          ? "; the feature cache's disk is full: none of the features computed were kept"
          : '';
    const rerun = this.cachedImages > 0 ? 'run the same command again: it reads those features from the cache and computes the rest' : 'run the same command again';
    return new GraftError('CANCELLED', `Training was interrupted: ${output}${features}`, { hint: error.hint ?? rerun, cause: error });
  }
}
