import { existsSync, lstatSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { isWithin } from '../../core/is-within.js';
import type { RunRecord } from './dashboard-store.js';

/**
 * The folder that holds everything a dashboard run writes, `<dataDir>/runs/<id>/`: its model, the fine-tuning
 * checkpoint beside it, a writer's staging folder. Undefined for a record whose model lies elsewhere: a store written
 * by other means, or copied from another data folder (`cp -r graft-ui backup`), whose paths name the first folder's
 * runs. A folder this dashboard did not lay out in its own data folder is never removed, nor written into.
 */
export function runFolder(run: RunRecord, dataDir: string): string | undefined {
  const folder = join(resolve(dataDir), 'runs', String(run.id));
  return resolve(run.modelDir) === join(folder, 'model') ? folder : undefined;
}

/**
 * Removes everything a run wrote: its folder in this dashboard's data folder. A failed or cancelled run keeps nothing
 * on disk (the dashboard never resumes a run), and a deleted one neither; its record in the store says what
 * happened. A record whose model lies elsewhere ({@link runFolder}) has its files left where they are.
 */
export async function removeRunFiles(run: RunRecord, dataDir: string): Promise<void> {
  const folder = runFolder(run, dataDir);
  if (folder) await rm(folder, { recursive: true, force: true });
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
    const folder = runFolder(run, dataDir);
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
