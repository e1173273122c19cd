import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { readFile, rename, rm, rmdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../core/atomic-write.js';
import { GraftError } from '../core/errors.js';
import { readHead } from '../core/read-head.js';
import { decodeOnnxModel } from '../onnx/onnx-model.js';
import type { ModelFormat } from '../core/model-format.js';
import type { ProgressListener } from '../core/progress.js';
import { detectFormat } from '../formats/detect-format.js';
import { startsLikeOnnx, startsWithHdf5Signature } from '../formats/magic-numbers.js';
import type { BackboneLocation } from '../formats/model-location.js';
import { FORMAT_ENTRIES, formatEntry } from '../formats/registry.js';
import { weightPaths } from '../readers/tfjs-model-dir.js';
import { CATALOGUE, CATALOGUE_NAMES, findEntryBySha256, isCatalogueName, type CatalogueEntry } from './catalogue.js';
import { copyFileVerified, downloadCancelled, downloadFile } from './download.js';
import { acquireFileLock } from './file-lock.js';
import { applyMirror, type MirrorRule } from './mirror.js';
import { makeDirectory } from '../core/make-directory.js';

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
  /** Stops a download (or the wait for another process's) at once; it then fails with CANCELLED. */
  readonly signal?: AbortSignal;
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
  if (/^file:\/\//i.test(spec)) return resolveLocalPath(fileURLToPath(spec), fileURLToPath(spec));
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
      // With no hash to check, a generic file name (every TF.js model is a model.json) says nothing about which model
      // it is: such an entry is taken only from a folder named after it (<dir>/inception_v3/model.json).
      if (entry.sha256.length === 0 && entry.fileName === 'model.json' && !relative(root, candidate).split(sep).includes(name)) continue;
      searched.push(candidate);
      const found = await resolveLocalPath(isSingleFile(entry.format) ? candidate : dirname(candidate), candidate);
      const problem = entry.sha256.length === 0 ? await sizeMismatch(entry, found) : entry.sha256.includes(found.sha256) ? undefined : `its sha256 ${found.sha256.slice(0, 12)}... is not ${name}'s`;
      if (!problem) return { ...found, name, entry };
      // Named, so a user who put a copy there learns why it was not used.
      searched[searched.length - 1] = `${candidate} (found, but ${problem})`;
    }
    if (!searched.length) searched.push(`${root} (no ${entry.fileName})`);
  }
  const cached = catalogueCachePath(entry, options.cacheDir);
  searched.push(cached);
  const copy = await cachedCopy(entry, options.cacheDir);
  if ('found' in copy) return { ...copy.found, name, source: entry.url ?? name, entry };
  if ('damaged' in copy) {
    // A damaged cached copy (a disk error, an interrupted copy by hand) would train silently on wrong weights: it is
    // removed, and downloaded again where the network allows.
    await rm(isSingleFile(entry.format) ? cached : dirname(cached), { recursive: true, force: true });
    options.onProgress?.({ type: 'warning', code: 'CACHED_MODEL_DAMAGED', message: `The cached copy of ${name} (${cached}) was damaged: ${copy.damaged}. It was removed.` });
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
  const found = await readDownloadedModel(isSingleFile(entry.format) ? cached : dirname(cached), name, entry.format, dirname(cached));
  if (!('sha256' in found)) {
    await rm(isSingleFile(entry.format) ? cached : dirname(cached), { recursive: true, force: true });
    throw new GraftError('UNSUPPORTED_MODEL', `${entry.url} was downloaded, but it is not a model Graft can read: ${found.unreadable}. Nothing was kept.`, {
      hint: 'the server (or the mirror) sent something else; try again later, or use a local copy with --backbone <path>',
    });
  }
  if (!isSingleFile(entry.format) && entry.sha256.length > 0 && !entry.sha256.includes(found.sha256)) {
    await rm(dirname(cached), { recursive: true, force: true });
    throw new GraftError('MODEL_NOT_FOUND', `Downloaded ${entry.url} but its model id (sha256) is ${found.sha256}, expected ${entry.sha256.join(' or ')}`, {
      hint: 'the model changed upstream or the mirror serves another one; nothing was kept. Use a local copy with --backbone <path>.',
    });
  }
  const mismatch = entry.sha256.length === 0 ? await sizeMismatch(entry, found) : undefined;
  if (mismatch) {
    await rm(dirname(cached), { recursive: true, force: true });
    throw new GraftError('MODEL_NOT_FOUND', `Downloaded ${name} from ${servedBy(entry.url, options.mirrors ?? [])}, but it is another model: ${mismatch}. Nothing was kept.`, {
      hint: 'the mirror (GRAFT_HUB_MIRROR or the config file) serves another model under this address: check where it points, or pass the model you mean with --backbone <path>',
    });
  }
  return { ...found, name, source: entry.url, entry };
}

/**
 * Why a model fetched or found under a catalogue name is not that entry's, by the sizes its files state: an entry
 * with no sha256 has only these to tell its own model from another a mirror serves at its address.
 */
async function sizeMismatch(entry: CatalogueEntry, found: ResolvedBackbone): Promise<string | undefined> {
  const sizes = await formatEntry(found.format).declaredSizes?.(found.location, found.source);
  if (sizes?.inputSize !== undefined && sizes.inputSize !== entry.inputSize) {
    return `its input is ${sizes.inputSize} px, where ${entry.name}'s catalogue entry records ${entry.inputSize} px`;
  }
  const given = [sizes?.featureDim, sizes?.outputDim].filter((dim): dim is number => dim !== undefined);
  // A feature-vector model's features are its output; a classifier's are its classifier's input: either may be the entry's.
  if (given.length === 0 || given.includes(entry.featureDim)) return undefined;
  const output = sizes?.outputDim !== undefined && sizes.featureDim !== undefined ? ` (its output: ${sizes.outputDim} values)` : '';
  return `it gives ${given[0]} features${output}, where ${entry.name}'s catalogue entry records ${entry.featureDim}`;
}

async function resolveUrl(url: string, options: ResolveOptions): Promise<ResolvedBackbone> {
  const fileName = basename(new URL(url).pathname) || 'model.onnx';
  // TF.js graph or layers is told apart after the download, from model.json itself.
  const format = formatOfFileName(fileName);
  const folder = join(options.cacheDir, 'models', `url-${createHash('sha256').update(url).digest('hex').slice(0, 16)}`);
  const dest = join(folder, isSingleFile(format) ? fileName : 'model.json');
  const where = isSingleFile(format) ? dest : folder;
  const named = (found: ResolvedBackbone): ResolvedBackbone => ({ ...found, name: found.entry?.name ?? nameOfUrl(url, found.name), source: url });
  if (existsSync(dest)) {
    const found = await readCachedModel(where, url, folder);
    if ('sha256' in found) return named(found);
    // A URL has no sha256 to check a cached copy against, but one that no longer reads (a damaged disk, a file
    // changed by hand) must not stay in the way of a fresh download.
    await rm(folder, { recursive: true, force: true });
    options.onProgress?.({ type: 'warning', code: 'CACHED_MODEL_DAMAGED', message: `The cached copy of ${url} (${where}) cannot be read (${found.unreadable}). It was removed.` });
  }
  if (options.offline && !isLocalMirror(url, options)) {
    throw new GraftError('OFFLINE', `${url} is not in the cache (${dest}) and offline mode is on`, {
      hint: 'run once with network, or download it yourself and pass --backbone <path>',
    });
  }
  // A failure that kept nothing (a 404, an HTML page) leaves no empty folder that `graft cache info` lists as a
  // backbone; one that kept bytes to resume from keeps them.
  await downloadModel(url, dest, format, undefined, options).catch(async (error: unknown) => {
    await rmdir(folder).catch(() => undefined);
    throw error;
  });
  const found = await readDownloadedModel(where, url, format, folder);
  if ('sha256' in found) return named(found);
  await rm(folder, { recursive: true, force: true });
  throw new GraftError('UNSUPPORTED_MODEL', `${url} was downloaded, but it is not a model Graft can read: ${found.unreadable}. Nothing was kept.`, {
    hint: 'check that the URL names the model file itself (an .onnx file, or a TF.js model.json; TF Hub: add ?tfjs-format=file), not a web page about it',
  });
}

/** Where a download's model id is recorded, for models no catalogue hash covers: a later read checks it. */
const MODEL_ID_FILE = '.graft-model-id';

/**
 * A cached model, or why it cannot be read: a cache entry that fails to load (a truncated shard, an HTML page saved
 * as a model) or whose model id is not the one recorded when it was downloaded is the cache's problem to clean up,
 * not the user's.
 */
async function readCachedModel(path: string, source: string, folder: string): Promise<ResolvedBackbone | { readonly unreadable: string }> {
  let found: ResolvedBackbone;
  try {
    found = await resolveLocalPath(path, source);
  } catch (error) {
    if (error instanceof GraftError) return { unreadable: error.message };
    throw error;
  }
  const recorded = await readFile(join(folder, MODEL_ID_FILE), 'utf8').catch(() => undefined);
  if (recorded !== undefined && recorded.trim() !== found.sha256) {
    return { unreadable: `its model id (sha256) is ${found.sha256}, not the ${recorded.trim()} recorded when it was downloaded` };
  }
  return found;
}

/** What the cache holds of a catalogue entry: nothing, the model (checked against the entry's sha256), or a copy that fails the check. */
export type CachedCopy = { readonly absent: true } | { readonly found: ResolvedBackbone } | { readonly damaged: string };

/**
 * Reads and checks the cached copy of a catalogue entry, changing nothing: `graft models list` shows a damaged copy
 * as such, and `resolveBackbone` removes it.
 */
export async function cachedCopy(entry: CatalogueEntry, cacheDir: string): Promise<CachedCopy> {
  const cached = catalogueCachePath(entry, cacheDir);
  if (!existsSync(cached)) return { absent: true };
  const found = await readCachedModel(isSingleFile(entry.format) ? cached : dirname(cached), entry.name, dirname(cached));
  if ('sha256' in found && (entry.sha256.length === 0 || entry.sha256.includes(found.sha256))) return { found };
  return { damaged: 'sha256' in found ? `its sha256 is ${found.sha256}, not ${entry.sha256.join(' or ')}` : `it cannot be read (${found.unreadable})` };
}

/**
 * A model just downloaded, checked as far as can be without loading it (a one-file model's first bytes must be its
 * format's: a text or HTML reply is not), with its model id recorded for later reads.
 */
async function readDownloadedModel(path: string, source: string, format: ModelFormat, folder: string): Promise<ResolvedBackbone | { readonly unreadable: string }> {
  if (isSingleFile(format)) {
    const problem = headProblem(path, format);
    if (problem) return { unreadable: problem };
  }
  // Decoded once, here: a download cut short with a matching Content-Length starts like a model, was recorded as one,
  // and every later run failed to read it, with no way to fetch it again short of clearing every download.
  if (format === 'onnx') {
    try {
      decodeOnnxModel(await readFile(path), source);
    } catch (error) {
      if (error instanceof GraftError) return { unreadable: error.message };
      throw error;
    }
  }
  const found = await readCachedModel(path, source, folder);
  // Atomic: another process reading the cache meanwhile must never see an empty record (and delete the folder as damaged).
  if ('sha256' in found) await writeFileAtomic(join(folder, MODEL_ID_FILE), found.sha256);
  return found;
}

/** Why a one-file model's first bytes are not its format's (ONNX: a protobuf whose first field is ir_version; .h5: HDF5's signature). */
function headProblem(path: string, format: ModelFormat): string | undefined {
  const head = readHead(path, 8);
  const preview = JSON.stringify(head.toString('latin1').replace(/[^\x20-\x7e]/g, '.'));
  if (format === 'onnx' && !startsLikeOnnx(head)) return `an ONNX model starts with the protobuf field ir_version (byte 0x08); this file starts ${preview}`;
  if (format === 'keras-h5' && !startsWithHdf5Signature(head)) return `a Keras .h5 file starts with HDF5's signature; this file starts ${preview}`;
  return undefined;
}

/** A URL path segment as text; one with a malformed escape (`%ZZ`) as it is written. */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Path segments that say which version or variant of a hub model is served, not which model: TF Hub's `3/default/1`. */
const VERSION_SEGMENT = /^(v?\d+|default|latest)$/i;

/**
 * A readable name for a model fetched by URL (its cache folder is a hash), which tells hub models apart: a single
 * file's own name (`.../mobilenetv2-12-int8.onnx` -> `mobilenetv2-12-int8`), else the last three parts of the path
 * before a model.json and the version segments after the model's name
 * (`.../imagenet/mobilenet_v2_100_224/feature_vector/3/default/1/model.json` -> `imagenet/mobilenet_v2_100_224/feature_vector`,
 * Kaggle's `.../mobilenet-v2/tfJs/100-224-feature-vector/3` -> `mobilenet-v2/tfJs/100-224-feature-vector`).
 * @internal Exported for tests.
 */
export function nameOfUrl(url: string, fallback: string): string {
  const parts = new URL(url).pathname.split('/').filter(Boolean).map(decodeSegment);
  const last = parts.at(-1) ?? '';
  if (last.toLowerCase() !== 'model.json' && /\.[a-z][\w]*$/i.test(last)) return last.slice(0, last.lastIndexOf('.')) || fallback;
  if (last.toLowerCase() === 'model.json') parts.pop();
  while (parts.length > 0 && VERSION_SEGMENT.test(parts.at(-1)!)) parts.pop();
  return parts.slice(-3).join('/') || fallback;
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
  await makeDirectory(dirname(dest));
  // One process fills the folder at a time: another one's rename of model.json.download would pull it from under
  // this one's read of it. The second waits, then finds model.json in place.
  const lock = await acquireFileLock(`${dest}.lock`, {
    staleMs: 600_000,
    signal: options.signal,
    onCancel: () => downloadCancelled(url),
    onWait: (pid) => options.onProgress?.({ type: 'warning', code: 'DOWNLOAD_WAITING', message: `Waiting for another graft process${pid ? ` (pid ${pid})` : ''} that downloads ${url} into ${dirname(dest)}` }),
  });
  // A long download keeps the lock fresh, so that a waiter never takes it for a dead process's.
  const refresh = setInterval(lock.touch, 30_000).unref();
  try {
    if (!existsSync(dest)) await downloadModelFolder(url, dest, mirrors, options);
  } finally {
    clearInterval(refresh);
    await lock.release();
  }
}

/** model.json's weight shards, then model.json itself: model.json present means the download completed. */
async function downloadModelFolder(url: string, dest: string, mirrors: readonly MirrorRule[], options: ResolveOptions): Promise<void> {
  const manifestFile = `${dest}.download`;
  await fetchFile(url, manifestFile, undefined, mirrors, options);
  const folder = resolve(dirname(dest));
  // TF Hub serves files only with `?tfjs-format=file`; tfjs's loader adds model.json's query to every shard too.
  const query = new URL(url).search;
  let paths: string[];
  try {
    paths = weightPaths(await readFile(manifestFile), servedBy(url, mirrors));
  } catch (error) {
    // A bad model.json (an HTML page, a cut-off transfer) must not be kept: the next run would trust it.
    await rm(manifestFile, { force: true });
    throw error;
  }
  for (const path of paths) {
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
  await rename(manifestFile, dest);
}

/** `url`, and where a mirror maps it when one does, for messages about what was actually read. */
function servedBy(url: string, mirrors: readonly MirrorRule[]): string {
  const target = applyMirror(url, mirrors);
  const actual = 'path' in target ? target.path : target.url;
  return actual === url ? url : `${url} (served by ${actual})`;
}

/** One file from `url`, or from where a mirror maps it (another URL, or a local file that is copied). */
async function fetchFile(url: string, dest: string, sha256: string | undefined, mirrors: readonly MirrorRule[], options: ResolveOptions): Promise<string> {
  const target = applyMirror(url, mirrors);
  if ('path' in target) return copyFileVerified(target.path, dest, { sha256, onProgress: options.onProgress, url });
  return downloadFile(target.url, dest, { sha256, onProgress: options.onProgress, ...(options.signal ? { signal: options.signal } : {}) });
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
