import { constants } from 'node:fs';
import { chmod, copyFile, link, lstat, mkdir, readdir, readlink, symlink } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Puts into the new version `into` of an output folder what the user added to its old version `from`: every entry
 * whose name the writer does not own (`owns`) and did not just write. A model folder kept in git (`.git/`), with a
 * model card (`README.md`) or the user's notes keeps them through retraining, as Keras's `save` and Hugging Face's
 * `save_pretrained` leave other files in their folder; what Graft writes there is Graft's to replace, stale files
 * of an earlier run included.
 *
 * Files are hard-linked (copied where the file system cannot link), folders made anew, links copied as links: the
 * old version stays whole until the swap, a failure before it leaves the old version untouched, and nothing large
 * is copied. Returns the names carried, sorted.
 */
export async function carryForeignEntries(from: string, into: string, owns: (name: string) => boolean): Promise<string[]> {
  const old = await readdir(from).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return [] as string[];
    throw error;
  });
  const written = new Set(await readdir(into));
  const carried = old.filter((name) => !owns(name) && !written.has(name)).sort();
  for (const name of carried) await linkTree(join(from, name), join(into, name));
  return carried;
}

/** Codes of a file system that cannot hard-link this file (FAT, some network mounts, too many links): copy it. */
const CANNOT_LINK = new Set(['EPERM', 'EXDEV', 'EMLINK', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

async function linkTree(source: string, target: string): Promise<void> {
  const info = await lstat(source);
  if (info.isDirectory()) {
    await mkdir(target);
    for (const name of await readdir(source)) await linkTree(join(source, name), join(target, name));
    // After its entries: a folder the user made read-only still takes them, and its mode is its own (not the umask's).
    await chmod(target, info.mode & 0o7777);
  } else if (info.isSymbolicLink()) {
    // As a link, pointing where it pointed (hard-linking a link follows it on some systems).
    await symlink(await readlink(source), target);
  } else {
    await link(source, target).catch(async (error: NodeJS.ErrnoException) => {
      if (!CANNOT_LINK.has(error.code ?? '')) throw error;
      await copyFile(source, target, constants.COPYFILE_FICLONE);
      await chmod(target, info.mode & 0o7777);
    });
  }
}
