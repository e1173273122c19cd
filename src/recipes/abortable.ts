import { GraftError } from '../core/errors.js';
import type { ProgressListener } from '../core/progress.js';

/**
 * The progress listener, made to stop the run at its next event once `signal` is aborted (GraftError `CANCELLED`):
 * every long step reports progress, so a cancel is noticed within one step without threading the signal everywhere.
 */
export function abortable(listener: ProgressListener | undefined, signal: AbortSignal | undefined): ProgressListener | undefined {
  if (!signal) return listener;
  return (event) => {
    if (signal.aborted) throw new GraftError('CANCELLED', 'Training was cancelled');
    listener?.(event);
  };
}
