import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';

/** Writes a file via a temp file and rename, so a crash never leaves a half-written file under `path`. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw withPath(error, path);
  }
}

/**
 * Node's write errors name no file ("EFBIG: file too large, write"): the message gains the file being written. The
 * errno `code` is kept for callers that test it.
 */
function withPath(error: unknown, path: string): unknown {
  if (!(error instanceof Error) || error.message.includes(path)) return error;
  const named = new Error(`Cannot write ${path}: ${error.message}`, { cause: error });
  const code = (error as NodeJS.ErrnoException).code;
  if (code !== undefined) (named as NodeJS.ErrnoException).code = code;
  return named;
}

/**
 * Replaces directory `dest` with the fully written `staging` directory. The old directory is moved aside first and
 * deleted last, so `dest` is only ever the old complete directory or the new one, or (between the two renames, a
 * moment with no way around it in Node: no atomic exchange of directories) absent, never half written.
 */
export async function replaceDirectory(staging: string, dest: string): Promise<void> {
  const old = `${dest}.old-${process.pid}-${randomBytes(4).toString('hex')}`;
  let movedOld = false;
  try {
    await rename(dest, old);
    movedOld = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  try {
    await rename(staging, dest);
  } catch (error) {
    // Another writer may have put its own directory there meanwhile: then the old one stays aside, and is named.
    if (movedOld && !(await rename(old, dest).then(() => true, () => false))) {
      throw new Error(`Cannot put ${dest} in place (${(error as Error).message}); another process wrote it at the same time. The previous version is kept in ${old}.`, { cause: error });
    }
    throw withPath(error, dest);
  }
  if (movedOld) await rm(old, { recursive: true, force: true });
}
