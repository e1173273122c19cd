import { isWithin } from './is-within.js';
import { constants } from 'node:fs';
import { access, readdir, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { GraftError } from './errors.js';

/** The kind of folder an output replaces: the file that marks one (`graft.json`), and what it is called. */
export interface OutputKind {
  readonly marker: string;
  readonly what: string;
  /**
   * The names (at the folder's top) this kind of output writes, in this build or an earlier one: a new version
   * replaces them, and carries anything else the old one held, the user's own files (writeDirectoryStaged's `owns`).
   */
  readonly owns: (name: string) => boolean;
}

/** A TF.js layers model: model.json, its weight shards, and the labels and preprocessing Graft writes beside them. */
const LAYERS_FILES = /^(?:model\.json|graft-model\.json|.+\.bin)$/;

export const MODEL_DIR_OUTPUT: OutputKind = { marker: 'graft.json', what: 'a Graft model directory', owns: (name) => ['graft.json', 'head.bin', 'model.onnx'].includes(name) };
export const LAYERS_DIR_OUTPUT: OutputKind = { marker: 'model.json', what: 'a TF.js model folder', owns: (name) => LAYERS_FILES.test(name) };
/** The page, its script, the model (ONNX, or a `tfjs/` folder) and the runtime's files, whose names follow its version. */
export const WEB_EXPORT_OUTPUT: OutputKind = {
  marker: 'model.json',
  what: 'a web export',
  owns: (name) => /^(?:index\.html|classify\.js|model\.json|model\.onnx|tfjs)$|^(?:ort|tf)[\w.-]*\.(?:m?js|wasm)$/.test(name),
};
export const TEACHABLE_MACHINE_OUTPUT: OutputKind = { marker: 'metadata.json', what: 'a Teachable Machine model folder', owns: (name) => name === 'metadata.json' || LAYERS_FILES.test(name) };

/**
 * Refuses an output folder whose replacement would destroy something that is not an earlier output of the same
 * kind. Writers replace their folder whole (staged, then swapped in), so without this `--out photos/` or `--out .`
 * would delete the photos or the working directory. What may be replaced: nothing, an empty folder, or a folder
 * holding `kind.marker` (retraining into the same `--out`, as Keras's `model.save` overwrites). `protect` lists
 * paths (the training data) that must not lie inside the output; with `outsideFolders`, the output must not lie inside
 * those of them that are folders either.
 * @throws GraftError INVALID_CONFIG naming the path, before any work is done.
 */
export async function assertReplaceableOutput(out: string, kind: OutputKind, protect: readonly string[] = [], options: { readonly outsideFolders?: boolean } = {}): Promise<void> {
  const dest = resolve(out);
  for (const path of protect) {
    if (isWithin(resolve(path), dest)) {
      throw new GraftError('INVALID_CONFIG', `The output ${out} holds ${path}, which this run reads: writing ${kind.what} there would delete it`, {
        hint: 'choose an --out outside the data',
      });
    }
    // A dataset folder is read whole, sub-folders included: a model written inside it is a new "class" next time.
    if (options.outsideFolders && isWithin(dest, resolve(path)) && (await stat(path).catch(() => undefined))?.isDirectory()) {
      throw new GraftError('INVALID_CONFIG', `The output ${out} is inside ${path}, which this run reads: the next run on it would read ${kind.what} as a class`, {
        hint: 'choose an --out outside the data',
      });
    }
  }
  await assertCanCreate(out);
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(dest)).isDirectory();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (!isDirectory) {
    throw new GraftError('INVALID_CONFIG', `The output ${out} is a file, not ${kind.what}; it would be replaced`, {
      hint: 'choose another --out, or delete the file first',
    });
  }
  const entries = await readdir(dest);
  if (entries.length === 0 || entries.includes(kind.marker)) return;
  const shown = entries.slice(0, 3).map((name) => join(out, name)).join(', ');
  throw new GraftError('INVALID_CONFIG', `The output folder ${out} is not empty and is not ${kind.what} (no ${kind.marker}); writing there would delete what it holds (${shown}${entries.length > 3 ? ', ...' : ''})`, {
    hint: 'choose a new or empty folder for --out, or delete that folder first',
  });
}

/**
 * Refuses a file output that cannot be written, before any work: a folder at that path, or a parent that is not an
 * existing folder (a write would fail only at the end, as an internal error). `what` names the file ("the Parquet
 * file"), `extension` its usual ending (".parquet"), for the hint.
 * @throws GraftError INVALID_CONFIG naming the path.
 */
export async function assertWritableFile(out: string, what: string, extension: string): Promise<void> {
  const dest = resolve(out);
  if ((await stat(dest).catch(() => undefined))?.isDirectory()) {
    throw new GraftError('INVALID_CONFIG', `The output ${out} is a folder; ${what} is one file`, { hint: `pass a file name inside it, e.g. --out ${join(out, `${basename(dest)}${extension}`)}` });
  }
  const parent = dirname(dest);
  if (!(await stat(parent).catch(() => undefined))) {
    throw new GraftError('INVALID_CONFIG', `Cannot write ${out}: the folder ${parent} does not exist`, { hint: 'create the folder first, or pass an --out in an existing one' });
  }
  await assertCanCreate(out);
}

/**
 * Refuses a one-file output that would land in what this run reads: a file inside one of `inputs` (a model directory, a
 * dataset, a feature store; the input file itself) that exists and that `mayReplace` does not accept (an earlier
 * report may be replaced; a model's graft.json or a store's shard may not). A new file there is fine, and outside the
 * inputs a named file is replaced, as `-o` is.
 * @throws GraftError INVALID_CONFIG naming the output and the input.
 */
export async function assertOutsideInputs(
  out: string,
  inputs: readonly string[],
  what: string,
  options: { readonly mayReplace?: (path: string) => boolean } = {},
): Promise<void> {
  // Links resolved on both sides: a link to the model directory is the model directory.
  const dest = await realpath(out).catch(async () => join(await realpath(dirname(resolve(out))).catch(() => dirname(resolve(out))), basename(out)));
  const exists = await stat(dest).then(() => true, () => false);
  for (const input of inputs) {
    const real = await realpath(input).catch(() => resolve(input));
    if (!isWithin(dest, real)) continue;
    if (!exists || options.mayReplace?.(dest)) continue;
    throw new GraftError('INVALID_CONFIG', `The output ${out} is ${dest === real ? '' : 'a file of '}${input}, which this run reads: writing ${what} there would replace it`, {
      hint: `choose an --out outside ${input}`,
    });
  }
}

/**
 * Refuses, before any work, an output that could only fail at the end: under a path that is a file, or in a folder
 * this process cannot write (a read-only mount, another user's folder). Missing folders on the way are fine (they
 * are created); the nearest one that exists decides.
 * @throws GraftError INVALID_CONFIG naming the output and the folder.
 */
export async function assertCanCreate(out: string, flag = '--out'): Promise<void> {
  for (let dir = dirname(resolve(out)); ; dir = dirname(dir)) {
    const info = await stat(dir).catch(() => undefined);
    if (info && !info.isDirectory()) {
      throw new GraftError('INVALID_CONFIG', `Cannot write ${out}: ${dir} is a file, not a folder`, { hint: `choose a ${flag} whose folders are folders` });
    }
    if (info) {
      const writable = await access(dir, constants.W_OK).then(() => true, () => false);
      if (!writable) throw new GraftError('INVALID_CONFIG', `Cannot write ${out}: the folder ${dir} is not writable`, { hint: `choose a ${flag} in a folder you can write to, or change its permissions` });
      return;
    }
    if (dirname(dir) === dir) return;
  }
}

/**
 * Refuses an existing, non-empty folder at `out` unless the caller asked to replace it (`--overwrite`), and even then
 * one that is not an earlier output of `kind` (no `kind.marker`): exports replace their folder whole, so
 * `--out . --overwrite` would delete the working directory. `protect` (the model directory) must not lie inside it.
 * @throws GraftError INVALID_CONFIG naming the path, before any work is done.
 */
export async function assertOverwriteAllowed(out: string, overwrite: boolean | undefined, kind: OutputKind, protect: readonly string[] = []): Promise<void> {
  await assertCanCreate(out);
  if (!(await readdir(out).catch(() => [])).length) return;
  if (!overwrite) throw new GraftError('INVALID_CONFIG', `The output folder ${out} exists and is not empty`, { hint: 'pass --overwrite, or choose another --out' });
  await assertReplaceableOutput(out, kind, protect);
}
