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
    throw error;
  }
}

/**
 * Replaces directory `dest` with the fully written `staging` directory. The old directory is moved aside
 * first and deleted last, so at every moment `dest` is either the old complete model or the new one.
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
    if (movedOld) await rename(old, dest);
    throw error;
  }
  if (movedOld) await rm(old, { recursive: true, force: true });
}
