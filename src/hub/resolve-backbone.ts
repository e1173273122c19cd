import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { readFile, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { GraftError } from '../core/errors.js';
import type { ModelFormat } from '../core/model-format.js';
import type { ProgressListener } from '../core/progress.js';
import { detectFormat } from '../formats/detect-format.js';
import type { BackboneLocation } from '../formats/model-location.js';
import { FORMAT_ENTRIES, formatEntry } from '../formats/registry.js';
import { weightPaths } from '../readers/tfjs-model-dir.js';
import { CATALOGUE, CATALOGUE_NAMES, findEntryBySha256, isCatalogueName, type CatalogueEntry } from './catalogue.js';
import { copyFileVerified, downloadFile } from './download.js';
import { applyMirror, type MirrorRule } from './mirror.js';

export type { BackboneLocation };

export interface ResolvedBackbone {
  readonly name: string;
  /** What the user passed, with local paths made absolute. */
  readonly source: string;
  readonly format: ModelFormat;
  readonly location: BackboneLocation;
  /** Model id: sha256 of the ONNX file, or of model.json plus weights (TF.js). */
  readonly sha256: string;
  /** The catalogue entry this backbone is (by name or by hash), which supplies its preprocessing. */
  readonly entry: CatalogueEntry | undefined;
}

export interface ResolveOptions {
  /** Root of Graft's cache; models live under `<cacheDir>/models`. */
  readonly cacheDir: string;
  /** Extra folders searched for catalogue files by name, e.g. GRAFT_MODELS_DIR. */
  readonly modelDirs?: readonly string[];
  /** Never touch the network. Defaults to false. */
  readonly offline?: boolean;
  readonly onProgress?: ProgressListener;
  /**
   * Hub mirrors: URL prefixes mapped to another base URL or a local directory. Defaults to none; the CLI passes
   * the rules of `mirrorsFromEnvironment` (GRAFT_HUB_MIRROR, then the config file).
   */
  readonly mirrors?: readonly MirrorRule[];
}

/** Where a catalogue model lives in the cache once fetched (for TF.js models, the model.json in its folder). */
export function catalogueCachePath(entry: CatalogueEntry, cacheDir: string): string {
  return join(cacheDir, 'models', entry.name, entry.fileName);
}

/** ONNX and .h5 backbones are one file; TF.js models are a folder of model.json plus weight shards. */
function isSingleFile(format: ModelFormat): boolean {
  return formatEntry(format).storage === 'file';
}

/**
 * Folders from GRAFT_MODELS_DIR (path-list separated), which the resolver searches before downloading. The library
 * reads no environment: the CLI calls this with its environment and passes the result as `modelDirs`.
 */
export function modelDirsFromEnv(env: Readonly<Record<string, string | undefined>>): string[] {
  return (env['GRAFT_MODELS_DIR'] ?? '').split(process.platform === 'win32' ? ';' : ':').filter(Boolean);
}

/**
 * The format a downloaded file name implies, to know whether it is one file or a TF.js folder: a file format by
 * its extension, a model.json as TF.js layers (graph or layers is told apart after the download, from its content),
 * and anything else as ONNX.
 */
function formatOfFileName(fileName: string): ModelFormat {
  if (fileName.endsWith('.json')) return 'tfjs-layers';
  const entry = FORMAT_ENTRIES.find((e) => e.storage === 'file' && e.extensions.some((ext) => fileName.toLowerCase().endsWith(ext)));
  return entry?.name ?? 'onnx';
}

/**
 * Finds a backbone given a catalogue name, a URL or a local path; tries bundled -> model dirs -> cache -> network,
 * in that order, and verifies catalogue files by sha256.
 * @throws GraftError MODEL_NOT_FOUND / OFFLINE with the places searched and what to do.
 */
export async function resolveBackbone(spec: string, options: ResolveOptions): Promise<ResolvedBackbone> {
  if (isCatalogueName(spec)) return resolveCatalogueName(spec, options);
  if (/^https?:\/\//i.test(spec)) return resolveUrl(spec, options);
  if (spec.includes('/') || spec.includes('\\') || spec.startsWith('.') || existsSync(spec)) return resolveLocalPath(resolve(spec), spec);
  throw new GraftError('MODEL_NOT_FOUND', `Unknown backbone "${spec}": not a catalogue name, a URL or an existing path`, {
    hint: `use one of: ${CATALOGUE_NAMES.join(', ')}; or a local .onnx file / TF.js model folder; or an http(s) URL`,
  });
}

async function resolveCatalogueName(name: keyof typeof CATALOGUE, options: ResolveOptions): Promise<ResolvedBackbone> {
  const entry: CatalogueEntry = CATALOGUE[name];
  if (entry.bundled) {
    return { name, source: `npm:${entry.bundled}`, format: entry.format, location: { kind: 'bundled', bundle: entry.bundled }, sha256: await bundledSha256(), entry };
  }
  const searched: string[] = [];
  for (const root of options.modelDirs ?? []) {
    for (const candidate of findByFileName(root, entry.fileName, 3)) {
      searched.push(candidate);
      const found = await resolveLocalPath(isSingleFile(entry.format) ? candidate : dirname(candidate), candidate);
      if (entry.sha256.length === 0 || entry.sha256.includes(found.sha256)) return { ...found, name, entry };
      // Named, so a user who put a copy there learns why it was not used.
      searched[searched.length - 1] = `${candidate} (found, but its sha256 ${found.sha256.slice(0, 12)}... is not ${name}'s)`;
    }
    if (!searched.length) searched.push(`${root} (no ${entry.fileName})`);
  }
  const cached = catalogueCachePath(entry, options.cacheDir);
  searched.push(cached);
  if (existsSync(cached)) {
    const found = await resolveLocalPath(isSingleFile(entry.format) ? cached : dirname(cached), name);
    if (entry.sha256.length === 0 || entry.sha256.includes(found.sha256)) return { ...found, name, source: entry.url ?? name, entry };
    // A damaged cached copy (a disk error, an interrupted copy by hand) would train silently on wrong weights: it is
    // removed, and downloaded again where the network allows.
    await rm(isSingleFile(entry.format) ? cached : dirname(cached), { recursive: true, force: true });
    const message = `The cached copy of ${name} (${cached}) was damaged: its sha256 is ${found.sha256}, not ${entry.sha256.join(' or ')}. It was removed.`;
    options.onProgress?.({ type: 'warning', code: 'CACHED_MODEL_DAMAGED', message });
    searched[searched.length - 1] = `${cached} (damaged, removed)`;
  }
  if (!entry.url) throw new GraftError('MODEL_NOT_FOUND', `Backbone ${name} has no download address`);
  if (options.offline && !isLocalMirror(entry.url, options)) {
    throw new GraftError('OFFLINE', `Backbone ${name} is not available offline. Searched: ${searched.join(', ')}`, {
      hint: `download ${entry.url} and pass --backbone <path>, set GRAFT_MODELS_DIR to a folder that holds ${entry.fileName}, point GRAFT_HUB_MIRROR at a local folder, or run once with network`,
    });
  }
  // A single-file model has one id; a TF.js model's id covers model.json plus shards and is checked below.
  await downloadModel(entry.url, cached, entry.format, isSingleFile(entry.format) ? entry.sha256[0] : undefined, options);
  const found = await resolveLocalPath(isSingleFile(entry.format) ? cached : dirname(cached), name);
  if (!isSingleFile(entry.format) && entry.sha256.length > 0 && !entry.sha256.includes(found.sha256)) {
    await rm(dirname(cached), { recursive: true, force: true });
    throw new GraftError('MODEL_NOT_FOUND', `Downloaded ${entry.url} but its model id (sha256) is ${found.sha256}, expected ${entry.sha256.join(' or ')}`, {
      hint: 'the model changed upstream or the mirror serves another one; nothing was kept. Use a local copy with --backbone <path>.',
    });
  }
  return { ...found, name, source: entry.url, entry };
}

async function resolveUrl(url: string, options: ResolveOptions): Promise<ResolvedBackbone> {
  const fileName = basename(new URL(url).pathname) || 'model.onnx';
  // TF.js graph or layers is told apart after the download, from model.json itself.
  const format = formatOfFileName(fileName);
  const folder = join(options.cacheDir, 'models', `url-${createHash('sha256').update(url).digest('hex').slice(0, 16)}`);
  const dest = join(folder, isSingleFile(format) ? fileName : 'model.json');
  if (!existsSync(dest)) {
    if (options.offline && !isLocalMirror(url, options)) {
      throw new GraftError('OFFLINE', `${url} is not in the cache (${dest}) and offline mode is on`, {
        hint: 'run once with network, or download it yourself and pass --backbone <path>',
      });
    }
    await downloadModel(url, dest, format, undefined, options);
  }
  const found = await resolveLocalPath(isSingleFile(format) ? dest : folder, url);
  return { ...found, source: url };
}

/** Whether a mirror rule serves `url` from a folder: copying from it needs no network, so offline mode allows it. */
function isLocalMirror(url: string, options: ResolveOptions): boolean {
  return 'path' in applyMirror(url, options.mirrors ?? []);
}

/**
 * Downloads a single-file model (ONNX, .h5), or a TF.js model.json plus the weight shards it lists, through the
 * mirrors. Exported for `graft models pull`.
 */
export async function downloadModel(url: string, dest: string, format: ModelFormat, sha256: string | undefined, options: ResolveOptions): Promise<void> {
  const mirrors = options.mirrors ?? [];
  if (isSingleFile(format)) {
    await fetchFile(url, dest, sha256, mirrors, options);
    return;
  }
  // Shards first, model.json last: model.json present means the download completed.
  const manifestFile = `${dest}.download`;
  await fetchFile(url, manifestFile, undefined, mirrors, options);
  const folder = resolve(dirname(dest));
  // TF Hub serves files only with `?tfjs-format=file`; tfjs's loader adds model.json's query to every shard too.
  const query = new URL(url).search;
  for (const path of weightPaths(await readFile(manifestFile), url)) {
    const target = resolve(folder, path);
    if (!target.startsWith(folder + '/') || /^[a-z][a-z0-9+.-]*:/i.test(path)) {
      await rm(manifestFile, { force: true });
      throw new GraftError('UNSUPPORTED_MODEL', `model.json at ${url} lists a weight path outside its folder: ${path}`, {
        hint: 'the model.json is damaged or hostile; nothing from it was downloaded',
      });
    }
    const shardUrl = new URL(path, url);
    if (!shardUrl.search) shardUrl.search = query;
    if (!existsSync(target)) await fetchFile(shardUrl.toString(), target, undefined, mirrors, options);
  }
  // Another process may have completed the same folder meanwhile; its model.json is as good as this one.
  await rename(manifestFile, dest).catch(async (error: unknown) => {
    if (!existsSync(dest)) throw error;
  });
}

/** One file from `url`, or from where a mirror maps it (another URL, or a local file that is copied). */
async function fetchFile(url: string, dest: string, sha256: string | undefined, mirrors: readonly MirrorRule[], options: ResolveOptions): Promise<string> {
  const target = applyMirror(url, mirrors);
  if ('path' in target) return copyFileVerified(target.path, dest, { sha256, onProgress: options.onProgress, url });
  return downloadFile(target.url, dest, { sha256, onProgress: options.onProgress });
}

/**
 * A local model file, a model.json, or a folder holding one of them, recognised by the format registry (by
 * content), with its model id and, when its hash is in the catalogue, its catalogue entry.
 * @throws GraftError `MODEL_NOT_FOUND` for a missing path; what detectFormat throws for anything else.
 */
export async function resolveLocalPath(path: string, source: string): Promise<ResolvedBackbone> {
  if (!existsSync(path)) {
    throw new GraftError('MODEL_NOT_FOUND', `Backbone path not found: ${path}`, {
      hint: `pass an existing .onnx file or TF.js model folder, or a catalogue name (${CATALOGUE_NAMES.join(', ')})`,
    });
  }
  const detected = await detectFormat(path);
  const format = formatEntry(detected.format);
  const location = format.locate(detected.path);
  const sha256 = await format.modelId(location);
  const entry = findEntryBySha256(sha256);
  const fallbackName = format.storage === 'file' ? basename(detected.path, extname(detected.path)) : folderName(dirname(detected.path));
  return { name: entry?.name ?? fallbackName, source: resolve(source), format: format.name, location, sha256, entry };
}

/** Model id of the MobileNetV2 bundled in nsfwjs: sha256 of its model and weight files as installed. */
async function bundledSha256(): Promise<string> {
  const require = createRequire(import.meta.url);
  const hash = createHash('sha256');
  // nsfwjs's `exports` map hides dist/models, so go from its main entry (dist/cjs/index.js).
  const modelDir = join(dirname(require.resolve('nsfwjs')), '..', 'models', 'mobilenet_v2');
  for (const file of ['model.min.js', 'group1-shard1of1.min.js']) hash.update(await readFile(join(modelDir, file)));
  return hash.digest('hex');
}

/** Files named `fileName` under `root`, at most `depth` folders deep, sorted for determinism. */
function findByFileName(root: string, fileName: string, depth: number): string[] {
  if (!existsSync(root) || depth < 0) return [];
  const found: string[] = [];
  for (const item of readdirSync(root, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (item.isFile() && item.name === fileName) found.push(join(root, item.name));
    else if (item.isDirectory() && !item.name.startsWith('.')) found.push(...findByFileName(join(root, item.name), fileName, depth - 1));
  }
  return found;
}

/** A model folder's display name; generic names (`graph/`, `base/`, `model/`...) get their parent's as well. */
function folderName(dir: string): string {
  const name = basename(dir);
  return ['graph', 'layers', 'base', 'model', 'models', 'tfjs', 'original', 'web_model'].includes(name) ? `${basename(dirname(dir))}/${name}` : name;
}
