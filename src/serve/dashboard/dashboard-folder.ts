import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { GraftError } from '../../core/errors.js';
import { DASHBOARD_STORE_FILE } from './dashboard-store.js';

/**
 * Names a folder may hold and still be new to the dashboard: its lock (a start cut off before the store was made),
 * hidden files, and the `lost+found` of a freshly formatted volume mounted there (a container's data volume).
 */
const IGNORED = (name: string): boolean => name === 'graft.lock' || name === 'lost+found' || name.startsWith('.');

/**
 * Refuses, before anything is written or removed, a dashboard folder that holds other things: the dashboard writes
 * `staging/`, `projects/<id>/` and `runs/<id>/` there, empties `staging/` on every start and deletes a project's or
 * run's folder with it, so `--data-dir ~/photos` (taken for the images' folder) would lose the user's files of those
 * names. What is accepted: a missing or empty folder, or one an earlier `graft ui` made (it holds the store).
 * @throws GraftError INVALID_CONFIG naming the folder and some of what it holds.
 */
export function assertDashboardFolder(dataDir: string): void {
  let entries: string[];
  try {
    entries = readdirSync(dataDir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR') throw new GraftError('INVALID_CONFIG', `The dashboard folder ${dataDir} is a file`, { hint: 'pass --data-dir a new or empty folder' });
    throw error;
  }
  if (entries.includes(DASHBOARD_STORE_FILE)) return;
  const others = entries.filter((name) => !IGNORED(name)).sort();
  if (others.length === 0) return;
  const shown = others.slice(0, 3).map((name) => join(dataDir, name)).join(', ');
  throw new GraftError('INVALID_CONFIG', `The dashboard folder ${dataDir} is not empty and is not one graft ui made (no ${DASHBOARD_STORE_FILE}): it holds ${shown}${others.length > 3 ? ', ...' : ''}, which the dashboard's own folders (staging/, projects/, runs/) could delete`, {
    hint: '--data-dir is where the dashboard keeps its store, uploads and models: pass a new or empty folder (default ./graft-ui); give the folder of your images with --data-root instead',
  });
}
