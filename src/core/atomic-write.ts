import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { carryForeignEntries } from './carry-foreign-entries.js';
import { diskFullCause } from './disk-full.js';
import { isProcessRunning } from './process-alive.js';
import { beginSwap, forgetWorkingPath, workingPathFor, type WorkingKind } from './unfinished-writes.js';
import { makeDirectory } from './make-directory.js';

/**
 * Writes a file via a temp file and rename, so a crash never leaves a half-written file under `path`. First it removes
 * what a killed writer left beside `path`, unless `removeLeftovers` is false: a caller writing thousands of files into
 * one folder sweeps it once instead of reading it at every write.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: { readonly removeLeftovers?: boolean } = {}): Promise<void> {
  if (options.removeLeftovers ?? true) await removeOrphanedSiblings(path);
  const tmp = workingPathFor(path, 'tmp');
  try {
    await writeFile(tmp, data);
    const endSwap = beginSwap(tmp);
    try {
      await rename(tmp, path);
    } finally {
      endSwap();
    }
  } catch (error) {
    await rm(tmp, { force: true });
    throw withPath(error, path);
  } finally {
    forgetWorkingPath(tmp);
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
  await removeOrphanedSiblings(dest);
  const endSwap = beginSwap(staging);
  try {
    await swapDirectory(staging, dest);
  } finally {
    endSwap();
  }
}

async function swapDirectory(staging: string, dest: string): Promise<void> {
  const old = `${dest}.old-${process.pid}-${randomBytes(4).toString('hex')}`;
  let movedOld = false;
  try {
    await rename(dest, old);
    movedOld = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const displaced: string[] = [];
  for (let attempt = 1; ; attempt++) {
    try {
      await rename(staging, dest);
      break;
    } catch (error) {
      // Another writer put its own directory in place since ours moved the old one aside: the last to finish wins,
      // as if it had started last (two trainings into one --out, a server saving a model twice).
      const code = (error as NodeJS.ErrnoException).code;
      if ((code === 'ENOTEMPTY' || code === 'EEXIST') && attempt <= 3) {
        const theirs = `${dest}.old-${process.pid}-${randomBytes(4).toString('hex')}`;
        if (await rename(dest, theirs).then(() => true, () => false)) displaced.push(theirs);
        continue;
      }
      // Else the old one stays aside, and is named.
      if (movedOld && !(await rename(old, dest).then(() => true, () => false))) {
        throw new Error(`Cannot put ${dest} in place (${(error as Error).message}); another process wrote it at the same time. The previous version is kept in ${old}.`, { cause: error });
      }
      throw withPath(error, dest);
    }
  }
  await Promise.all([...(movedOld ? [old] : []), ...displaced].map((path) => rm(path, { recursive: true, force: true })));
}

/**
 * Writes directory `dest` whole: `write` fills a new working folder beside it (`<dest>.<kind>-<pid>-<hex>`, created
 * first unless `create` is false, for a writer that makes it itself), which then replaces `dest` ({@link
 * replaceDirectory}). On a failure the working folder is removed and `dest` is as it was; on Ctrl+C the CLI removes it
 * (removeUnfinishedWrites), and one a kill left is removed by the next write to `dest`. With `owns` (the names this
 * kind of output writes), what else the old `dest` holds (the user's own files) is carried into the new one
 * ({@link carryForeignEntries}); without it `dest` is replaced whole.
 */
export async function writeDirectoryStaged<T>(
  dest: string,
  kind: WorkingKind,
  write: (staging: string) => Promise<T>,
  options: { readonly create?: boolean; readonly owns?: (name: string) => boolean } = {},
): Promise<T> {
  const staging = workingPathFor(dest, kind);
  try {
    if (options.create !== false) await makeDirectory(staging);
    const result = await write(staging);
    if (options.owns) await carryForeignEntries(dest, staging, options.owns);
    await replaceDirectory(staging, dest);
    return result;
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw atOutput(error, staging, dest);
  } finally {
    forgetWorkingPath(staging);
  }
}

/**
 * A full disk met while writing the working folder, told as the output it was for (`m/model.onnx`, not
 * `m.staging-81-3fa2c9d0/model.onnx`): the working folder is gone by then, and the user never named it. The errno
 * `code` and the cause are kept.
 */
function atOutput(error: unknown, staging: string, dest: string): unknown {
  if (!(error instanceof Error) || !diskFullCause(error) || !error.message.includes(staging)) return error;
  const renamed = new Error(error.message.replaceAll(staging, dest), { cause: error });
  const code = (error as NodeJS.ErrnoException).code;
  if (code !== undefined) (renamed as NodeJS.ErrnoException).code = code;
  return renamed;
}

/**
 * The working names writers give beside their output: `<name>.<kind>-<pid>-<8 hex>`, once nested (a conversion's
 * staging inside an export's). Exactly that shape: a folder a person named `model.old-2024-dec` is never one.
 */
const SIBLING = /^\.(staging|converting|exporting|source|tmp|old)-(\d+)-[0-9a-f]{8}(\.(staging|converting|tmp)-\d+-[0-9a-f]{8})?$/;

/**
 * Removes what a killed writer left beside `dest` (a staging folder, a temporary file): names of the form
 * `<name>.<kind>-<pid>-<hex>` whose process is gone. Ctrl+C in a command without a signal handler, or a kill -9,
 * leaves them; the next write to the same output tidies up. An `.old-` copy is removed only while `dest` exists
 * (killed between the two renames of a swap, it is the only copy).
 */
export async function removeOrphanedSiblings(dest: string): Promise<void> {
  const folder = dirname(dest);
  const name = basename(dest);
  const entries = await readdir(folder).catch(() => [] as string[]);
  const orphans = entries.filter((entry) => {
    if (!entry.startsWith(`${name}.`)) return false;
    const match = SIBLING.exec(entry.slice(name.length));
    if (!match || isProcessRunning(Number(match[2]))) return false;
    return match[1] !== 'old' || existsSync(dest);
  });
  await Promise.all(orphans.map((entry) => rm(join(folder, entry), { recursive: true, force: true })));
}
