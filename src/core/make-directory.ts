import { mkdirSync, statSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { GraftError } from './errors.js';

/**
 * `mkdir -p`: creates `path` and the folders missing on the way to it; a folder already there is fine.
 *
 * Not Node's `mkdir(path, { recursive: true })`, which spins forever at full CPU where a file system answers ENOENT for a
 * folder whose parent exists (/proc, some FUSE mounts): `graft train --out /proc/m` hung, deaf to Ctrl+C. Here the
 * same answer twice is an error naming the folder.
 * @throws GraftError INVALID_CONFIG where the file system makes no folder under an existing one (ENOENT twice); else
 *   its own error (EEXIST for a file in the way, EACCES).
 */
export async function makeDirectory(path: string): Promise<void> {
  const failed = await mkdir(path).then(
    () => undefined,
    (error: NodeJS.ErrnoException) => error,
  );
  if (failed === undefined || (await isFolderThere(path, failed))) return;
  if (failed.code !== 'ENOENT' || dirname(path) === path) throw failed;
  await makeDirectory(dirname(path));
  await mkdir(path).catch(async (error: NodeJS.ErrnoException) => {
    if (!(await isFolderThere(path, error))) throw refused(path, error);
  });
}

/** Whether mkdir failed only because a folder (made by another process meanwhile, or before) is there. */
async function isFolderThere(path: string, error: NodeJS.ErrnoException): Promise<boolean> {
  return error.code === 'EEXIST' && (await stat(path).catch(() => undefined))?.isDirectory() === true;
}

/** The second ENOENT, its parent made or there: a folder this file system takes no new folders in (/proc). */
function refused(path: string, error: NodeJS.ErrnoException): Error {
  if (error.code !== 'ENOENT') return error;
  return new GraftError('INVALID_CONFIG', `Cannot create the folder ${path}: ${dirname(path)} takes no new folders (the file system answers ${error.code})`, {
    hint: 'choose a place on a disk you can write to',
    cause: error,
  });
}

/** {@link makeDirectory}, synchronous (opening a cache before anything else runs). */
export function makeDirectorySync(path: string): void {
  const attempt = (): NodeJS.ErrnoException | undefined => {
    try {
      mkdirSync(path);
      return undefined;
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      return e.code === 'EEXIST' && statSync(path, { throwIfNoEntry: false })?.isDirectory() ? undefined : e;
    }
  };
  const first = attempt();
  if (first === undefined) return;
  if (first.code !== 'ENOENT' || dirname(path) === path) throw first;
  makeDirectorySync(dirname(path));
  const second = attempt();
  if (second !== undefined) throw refused(path, second);
}
