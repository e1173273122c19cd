import { GraftError } from '../../core/errors.js';
import { ServeError } from '../serve-error.js';
import type { RunRecord } from './dashboard-store.js';

/**
 * Runs `work` on a finished run's model folder, turning a folder that no longer loads (INVALID_MODEL_DIR) into a 409
 * that names the run and what is wrong. A finished run's folder is the dashboard's, so one that does not load was
 * changed outside it (a file deleted or edited by hand), which the user can put right; a generic 500 said nothing
 * of that. The message names the run, not the server's paths.
 */
export async function withRunModel<T>(run: RunRecord, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof GraftError) || error.code !== 'INVALID_MODEL_DIR') throw error;
    const why = error.message.replaceAll(run.modelDir, 'its folder');
    throw new ServeError('CONFLICT', `Run ${run.id}'s model no longer loads; it was changed outside the dashboard: ${why}`, {
      hint: 'its folder was changed by hand; train the run again',
      cause: error,
    });
  }
}
