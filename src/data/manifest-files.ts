import { readdir, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { hasImageExtension, IMAGE_EXTENSIONS } from './dataset.js';
import { isImageUrl } from './fetch-image.js';
import { streamManifest, type ManifestEntry } from './manifest.js';
import { isClutter } from './scan-folder.js';

/** A manifest entry with its path resolved to a file on this machine (absolute; not checked to exist). */
export interface ManifestFile extends ManifestEntry {
  readonly file: string;
}

/**
 * Where a manifest's relative paths point: the folder they are relative to, and the extension added to a path that
 * has none. Kaggle's tables name images by id, without an extension (`0013035`, APTOS's `id_code`), and sit beside
 * the folder that holds them (`train_images/`, `train/`), where Keras's `directory=` and fastai's `folder=`/`suffix=`
 * arguments point.
 */
export interface ManifestPathRule {
  /** The folder relative paths are read from: the manifest's own, or the one sub-folder of it holding the first row. */
  readonly base: string;
  /** Added to a path without an image extension ('' for none). */
  readonly suffix: string;
}

/** Entries looked at, at most, for one whose image says how paths are read (a first row may be an unnamed header). */
const RULE_ROWS = 8;

/**
 * The manifest's entries with their files, read as {@link manifestPathRule} decides from the first entry whose image is
 * found (of the first {@link RULE_ROWS}; none found: relative to the manifest's folder, as written). Streamed.
 * @throws GraftError as {@link streamManifest} does.
 */
export async function* streamManifestFiles(manifest: string): AsyncGenerator<ManifestFile, void, undefined> {
  const root = resolve(manifest);
  const asWritten: ManifestPathRule = { base: dirname(root), suffix: '' };
  let rule: ManifestPathRule | undefined;
  const waiting: ManifestEntry[] = [];
  for await (const entry of streamManifest(root)) {
    if (rule === undefined) {
      waiting.push(entry);
      rule = (await manifestPathRule(root, entry.path)) ?? (waiting.length < RULE_ROWS ? undefined : asWritten);
      if (rule === undefined) continue;
      for (const e of waiting) yield { ...e, file: await inFormOnDisk(fileOf(rule, e.path)) };
      continue;
    }
    yield { ...entry, file: await inFormOnDisk(fileOf(rule, entry.path)) };
  }
  if (rule === undefined) for (const e of waiting) yield { ...e, file: await inFormOnDisk(fileOf(asWritten, e.path)) };
}

/**
 * The file as its name is written on disk when the manifest writes it in the other Unicode form: a name typed on
 * Linux or Windows is composed (NFC, `café`), one unzipped from macOS decomposed (NFD), and the two print alike but
 * are different names to the file system ("file not found" beside the very name `ls` shows). Only a name that is not
 * ASCII and not found as written is looked for again.
 */
async function inFormOnDisk(file: string): Promise<string> {
  if (isUrl(file) || /^[\x00-\x7f]*$/.test(file) || (await isFile(file))) return file;
  for (const form of ['NFC', 'NFD'] as const) {
    const twin = file.normalize(form);
    if (twin !== file && (await isFile(twin))) return twin;
  }
  return file;
}


/** Whether a manifest path is a URL (`https://...`, `s3://...`) rather than a path on this machine. */
export function isUrl(path: string): boolean {
  return /^[a-z][a-z0-9+.-]+:\/\//i.test(path);
}

/** Why a manifest's file is not an image file to read (not found, a folder, a URL), or undefined. */
export async function whyNotAFile(file: string): Promise<string | undefined> {
  if (isUrl(file)) {
    return isImageUrl(file)
      ? "a URL: fetch a manifest's images with graft download <manifest> --out <folder>, then train on the manifest it writes"
      : "a URL: a manifest's images are read from disk; copy them with that service's own tool and list their paths";
  }
  const info = await stat(file).catch(() => undefined);
  if (info === undefined) return 'file not found';
  if (info.isDirectory()) return 'a folder, not an image file';
  return info.isFile() ? undefined : 'not a regular file';
}

/** The file a manifest path names under `rule` (a URL as written: it names no file here). */
export function fileOf(rule: ManifestPathRule, path: string): string {
  if (isUrl(path)) return path;
  const named = hasImageExtension(path) ? path : path + rule.suffix;
  return isAbsolute(named) ? named : resolve(rule.base, named);
}

/**
 * How a manifest's paths are read, decided once from one row's path so every row, and every machine listing the same
 * manifest, reads the same way:
 * - relative to the manifest's folder when the path is found there (as written, or with an image extension added
 *   when it has none: `.jpg`, `.jpeg`, `.png`, ...);
 * - else relative to the one sub-folder of it where the path is found that way (`train_images/`).
 * @returns undefined when the path is found nowhere, or in several sub-folders.
 */
export async function manifestPathRule(manifest: string, firstPath: string): Promise<ManifestPathRule | undefined> {
  const own = dirname(resolve(manifest));
  const suffixes = hasImageExtension(firstPath) ? [''] : ['', ...IMAGE_EXTENSIONS];
  const suffixIn = async (base: string): Promise<string | undefined> => {
    for (const suffix of suffixes) if (await isFile(isAbsolute(firstPath) ? firstPath + suffix : join(base, firstPath + suffix))) return suffix;
    return undefined;
  };
  const here = await suffixIn(own);
  if (here !== undefined) return { base: own, suffix: here };
  if (isAbsolute(firstPath)) return undefined;
  const found: ManifestPathRule[] = [];
  for (const name of (await readdir(own, { withFileTypes: true })).filter((e) => e.isDirectory() && !isClutter(e.name)).map((e) => e.name).sort()) {
    const suffix = await suffixIn(join(own, name));
    if (suffix !== undefined) found.push({ base: join(own, name), suffix });
  }
  return found.length === 1 ? found[0] : undefined;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
