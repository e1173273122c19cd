import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraftError } from '../core/errors.js';
import { optionName } from '../core/option-name.js';
import { isProcessRunning } from '../core/process-alive.js';
import { forgetWorkingPath, markUnfinished } from '../core/unfinished-writes.js';

/**
 * A new private folder for local scratch files under `parent` (--work-dir) or the system's temporary folder, named
 * `<prefix><pid>-<random>`. It counts as an unfinished write until {@link removeWorkDir}, so a second Ctrl+C's exit
 * removes it; folders of the same prefix whose process is gone (a kill -9, an out-of-memory kill) are removed first.
 * @param needs what goes there, for the hint (e.g. "a copy of the shard being written").
 * @throws GraftError INVALID_CONFIG when it cannot be made (a missing or read-only folder: a container's root),
 *   naming the folder and --work-dir.
 */
export function makeWorkDir(parent: string | undefined, prefix: string, needs: string): string {
  const where = parent ?? tmpdir();
  let folder: string;
  try {
    folder = mkdtempSync(join(where, `${prefix}${process.pid}-`));
  } catch (cause) {
    throw new GraftError('INVALID_CONFIG', `Cannot make a scratch folder in ${where} (${(cause as Error).message})`, {
      hint: `pass ${optionName('workDir')} an existing, writable local folder (it holds ${needs})`,
      cause,
    });
  }
  markUnfinished(folder);
  removeOrphanedWorkDirs(where, prefix);
  return folder;
}

/** Removes a folder {@link makeWorkDir} made (and forgets it as unfinished). */
export function removeWorkDir(folder: string): void {
  rmSync(folder, { recursive: true, force: true });
  forgetWorkingPath(folder);
}

/** `<prefix><pid>-…` folders in `where` whose process is no longer running: a killed run's scratch copies (gigabytes). */
function removeOrphanedWorkDirs(where: string, prefix: string): void {
  let names: string[];
  try {
    names = readdirSync(where);
  } catch {
    return;
  }
  const own = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\d+)-[A-Za-z0-9]{6}$`);
  for (const name of names) {
    const pid = own.exec(name)?.[1];
    if (pid === undefined || Number(pid) === process.pid || isProcessRunning(Number(pid))) continue;
    rmSync(join(where, name), { recursive: true, force: true });
  }
}
