import { randomBytes } from 'node:crypto';
import { copyFile, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Copies a local file into a (possibly network-mounted) folder under its final name, atomically: the bytes go to a
 * hidden temporary name in the destination folder, are flushed to the server (fsync), and the temporary file is
 * renamed over the destination. A rename within one folder is atomic on local disks and on NFS, EFS and CephFS, so a
 * reader sees the previous file or the new one, never a half-written one; a process killed mid-copy leaves only a
 * hidden `.tmp-*` file, which readers of the folder pass over. The temporary name is random, not the process id: in a
 * container every process is pid 1, and two pods of one index (Kubernetes may run both) must not write one file.
 */
export async function publishFile(localFile: string, destination: string): Promise<void> {
  const folder = dirname(destination);
  const temporary = join(folder, `.${basename(destination)}.tmp-${randomBytes(6).toString('hex')}`);
  try {
    await copyFile(localFile, temporary);
    await fsyncPath(temporary);
    await rename(temporary, destination);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  // The rename itself is durable once the folder is flushed; some filesystems refuse fsync on a folder, which is fine.
  await fsyncPath(folder).catch(() => undefined);
}

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
