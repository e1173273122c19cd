import { existsSync, lstatSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { rm, rmdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { isWithin } from '../../core/is-within.js';
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

/**
 * Removes, at start-up, the folders of runs recorded as interrupted or failed that hold no model: a server killed
 * with kill -9 (or a power cut) mid-run left `<dataDir>/runs/<id>/` with only a checkpoint or a half-staged model,
 * which the dashboard never resumes. Only a folder the dashboard laid out ({@link runFolder}), really inside
 * `<dataDir>/runs` (links resolved, not itself a link), and with no model in it (`model/graft.json`, or a
 * `model.old-` copy a swap left) is removed. Returns the folders removed.
 */
export function removeLeftoverRunFolders(runs: readonly RunRecord[], dataDir: string): string[] {
  const runsDir = join(dataDir, 'runs');
  const realRunsDir = join(realpathSync(dataDir), 'runs');
  const removed: string[] = [];
  for (const run of runs) {
    if (run.status !== 'interrupted' && run.status !== 'failed') continue;
    const folder = runFolder(run);
    if (!folder || folder === runsDir || !isWithin(folder, runsDir)) continue;
    const stats = lstatSync(folder, { throwIfNoEntry: false });
    if (!stats?.isDirectory() || !isWithin(realpathSync(folder), realRunsDir)) continue;
    const holdsModel = existsSync(join(folder, 'model', 'graft.json')) || readdirSync(folder).some((entry) => entry.startsWith('model.old-'));
    if (holdsModel) continue;
    try {
      rmSync(folder, { recursive: true, force: true });
      removed.push(folder);
    } catch {
      // A folder that cannot be removed (permissions) only takes space: not a reason to refuse to start.
    }
  }
  return removed;
}
