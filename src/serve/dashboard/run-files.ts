import { rm, rmdir } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { checkpointFiles, removeCheckpoint } from '../../learn/checkpoint.js';
import type { RunRecord } from './dashboard-store.js';

/**
 * The folder that holds everything a dashboard run writes, `<dataDir>/runs/<id>/`: its model, the fine-tuning
 * checkpoint beside it, a writer's staging folder. Undefined for a record whose model lies elsewhere (a store
 * written by other means): a folder the dashboard did not lay out is never removed whole.
 */
export function runFolder(run: RunRecord): string | undefined {
  const folder = dirname(run.modelDir);
  return basename(run.modelDir) === 'model' && basename(folder) === String(run.id) && basename(dirname(folder)) === 'runs' ? folder : undefined;
}

/**
 * Removes everything a run wrote. A failed or cancelled run keeps nothing on disk (the dashboard never resumes a
 * run), and a deleted one neither; its record in the store says what happened.
 */
export async function removeRunFiles(run: RunRecord): Promise<void> {
  const folder = runFolder(run);
  if (folder) return rm(folder, { recursive: true, force: true });
  await rm(run.modelDir, { recursive: true, force: true });
  await Promise.all(checkpointFiles(`${run.modelDir}.checkpoint`).map(removeCheckpoint));
  await rmdir(dirname(run.modelDir)).catch(() => undefined); // the folder the queue made for it, when nothing else is in it
}
