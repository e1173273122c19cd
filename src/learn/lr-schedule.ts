/** Learning-rate schedules for fine-tuning, as pure functions of the step (so a resumed run continues exactly). */
import type { ScheduleKind } from '../core/training-config.js';

export type { ScheduleKind };
export const SCHEDULE_KINDS: readonly ScheduleKind[] = ['one-cycle', 'cosine', 'constant'];

export interface ScheduleOptions {
  readonly kind: ScheduleKind;
  /** The peak rate. */
  readonly maxLr: number;
  /** Total optimizer steps of the run. */
  readonly totalSteps: number;
  /** One-cycle: the fraction of steps spent warming up (fastai's pct_start). Defaults to 0.25. */
  readonly warmupFraction?: number;
  /** One-cycle: the run starts at maxLr / div (fastai's fine_tune uses 5). Defaults to 5. */
  readonly div?: number;
  /** One-cycle and cosine end at maxLr / finalDiv. Defaults to 1e4. */
  readonly finalDiv?: number;
}

/**
 * The learning rate at `step` (0-based). One-cycle is fastai's `fit_one_cycle` shape: a cosine warm-up from
 * maxLr/div to maxLr, then a cosine decay to maxLr/finalDiv; cosine decays from maxLr from the first step.
 *
 * @example
 * learningRateAt(0, { kind: 'one-cycle', maxLr: 1e-3, totalSteps: 100 }); // 2e-4
 */
export function learningRateAt(step: number, options: ScheduleOptions): number {
  const { kind, maxLr, totalSteps } = options;
  if (kind === 'constant' || totalSteps <= 1) return maxLr;
  const low = maxLr / (options.finalDiv ?? 1e4);
  const progress = Math.min(Math.max(step / (totalSteps - 1), 0), 1);
  if (kind === 'cosine') return cosineBetween(maxLr, low, progress);
  const warmup = options.warmupFraction ?? 0.25;
  const start = maxLr / (options.div ?? 5);
  if (progress < warmup) return cosineBetween(start, maxLr, progress / warmup);
  return cosineBetween(maxLr, low, (progress - warmup) / (1 - warmup));
}

/** Cosine interpolation from `from` (t = 0) to `to` (t = 1). */
function cosineBetween(from: number, to: number, t: number): number {
  return to + ((from - to) * (1 + Math.cos(Math.PI * t))) / 2;
}
