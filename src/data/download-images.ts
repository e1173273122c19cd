/**
 * `graft download`: the images a manifest names by URL, fetched into a folder, and a manifest of the files written
 * beside them, which `graft train` reads (fastai's `download_images`, for the CSV a labelling tool or a scrape leaves).
 */
import { createHash } from 'node:crypto';
import { readdir, rm, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { writeFileAtomic } from '../core/atomic-write.js';
import { csvText } from '../core/csv-text.js';
import { diskFullCause } from '../core/disk-full.js';
import { GraftError } from '../core/errors.js';
import { refuseUnknownKeys } from '../core/unknown-options.js';
import { isWithin } from '../core/is-within.js';
import { isProcessRunning } from '../core/process-alive.js';
import type { ProgressListener } from '../core/progress.js';
import { IMAGE_EXTENSIONS } from './dataset.js';
import { fetchImageBytes, isImageUrl } from './fetch-image.js';
import { isUrl, streamManifestFiles, type ManifestFile } from './manifest-files.js';
import { EXTENSION_BY_FORMAT, READABLE_FORMATS, sniffImageFormat } from './sniff-image-format.js';
import { makeDirectory } from '../core/make-directory.js';

/** The manifest `downloadImages` writes in its folder. */
export const DOWNLOADED_MANIFEST = 'manifest.csv';

/** Options of {@link downloadImages}. */
export interface DownloadImagesOptions {
  /** Images fetched at once. Defaults to 8 (a browser opens 6 connections per host). */
  readonly concurrency?: number;
  /** The most bytes one image may hold. Defaults to 50 MB. */
  readonly maxBytes?: number;
  /** Retries of a failure that may pass (a busy server, a reset connection), per image. Defaults to 2. */
  readonly retries?: number;
  /** The wait before the first retry, doubled each time unless the server says. Defaults to 1 s. */
  readonly retryDelayMs?: number;
  /** Sent as `User-Agent`. */
  readonly userAgent?: string;
  /** Stops the downloads: those finished are kept, none is half written, and no manifest is written. */
  readonly signal?: AbortSignal;
  /** `fetch` counts, each failure as a `skip`, and each retry as a `DOWNLOAD_RETRY` warning. */
  readonly onProgress?: ProgressListener;
}

/** A manifest row whose image could not be had: left out of the manifest written. */
export interface DownloadFailure {
  /** Its line in the manifest read. */
  readonly line: number;
  readonly url: string;
  readonly label: string;
  readonly reason: string;
}

/** What {@link downloadImages} did. Plain data: serialises to JSON as is. */
export interface DownloadReport {
  /** The manifest written (absolute): `graft train` reads it. */
  readonly manifest: string;
  /** Its rows: every row of the manifest read but the failures. */
  readonly rows: number;
  /** Images fetched by this call. */
  readonly downloaded: number;
  /** Images already in the folder from an earlier call (the same URL under the same class), not fetched again. */
  readonly present: number;
  /** Rows naming a file on this machine, listed as they were (their paths made absolute). */
  readonly local: number;
  /** Rows whose image could not be had, in manifest order. */
  readonly failed: readonly DownloadFailure[];
  readonly seconds: number;
}

/** One image to have: the URL, and the file it goes to (without the extension its bytes decide). */
interface Target {
  readonly url: string;
  readonly folder: string;
  readonly stem: string;
  /** Set once the image is in the folder. */
  file?: string;
  reason?: string;
}

/**
 * Fetches every image `manifest` names by an http(s) URL into `outDir`, one sub-folder per class, each file named by
 * the URL's hash (16 hex digits) and the extension its bytes say (a JPEG served as `photo.php?id=3` is `….jpg`), and
 * writes `outDir/manifest.csv` (`path,label`, and `split` when the manifest has one) listing them with the rows that
 * named local files. Run again on the same folder it fetches only what is missing: an interrupted run goes on.
 *
 * A URL that fails (an HTTP error, a timeout, a body that is not an image Graft reads, such as a page saying the photo
 * was removed) is reported and left out, as an unreadable file is in training; only a manifest with no image at all
 * is an error.
 *
 * @throws GraftError `INVALID_DATASET` for a manifest that cannot be read or holds no image; `INVALID_CONFIG` when
 *   the manifest written would replace the one read; `CANCELLED` when `signal` is raised (what was fetched is kept).
 * @example
 * const report = await downloadImages('birds.csv', 'birds');
 * await train({ train: report.manifest, out: 'model' });
 */
export async function downloadImages(manifest: string, outDir: string, options: DownloadImagesOptions = {}): Promise<DownloadReport> {
  const started = performance.now();
  checkDownloadOptions(options);
  const out = resolve(outDir);
  const written = join(out, DOWNLOADED_MANIFEST);
  if (written === resolve(manifest)) {
    throw new GraftError('INVALID_CONFIG', `The manifest written, ${written}, would replace the one read.`, { hint: 'download into another folder (--out)' });
  }
  const rows: ManifestFile[] = [];
  for await (const row of streamManifestFiles(manifest)) rows.push(row);
  if (rows.length === 0) throw new GraftError('INVALID_DATASET', `${manifest} lists no images.`, { hint: 'a manifest is a .csv of path,label rows or a .jsonl of {"path","label"} objects' });
  await prepareFolder(out);

  // One target per URL and class: a URL listed twice under one class is fetched once.
  const targets = new Map<string, Target>();
  const targetOf = new Map<ManifestFile, Target>();
  for (const row of rows) {
    if (!isImageUrl(row.file)) continue;
    const folder = join(out, folderName(row.label));
    const stem = createHash('sha256').update(row.file).digest('hex').slice(0, 16);
    const key = join(folder, stem);
    const target = targets.get(key) ?? { url: row.file, folder, stem };
    targets.set(key, target);
    targetOf.set(row, target);
  }
  const present = await findPresent([...targets.values()]);
  const missing = [...targets.values()].filter((t) => t.file === undefined);
  const local = rows.filter((r) => !isUrl(r.file)).length;
  options.onProgress?.({ type: 'info', message: `download: ${missing.length} images to fetch into ${out}${present ? ` (${present} already there)` : ''}${local ? `; ${local} rows name local files` : ''}` });
  await fetchAll(missing, options);
  if (options.signal?.aborted) {
    const kept = missing.filter((t) => t.file !== undefined).length;
    throw new GraftError('CANCELLED', `Stopped with ${present + kept} of ${targets.size} images in ${out}; no manifest was written.`, {
      hint: 'run the same command again: the images already there are not fetched again',
    });
  }

  const failed: DownloadFailure[] = [];
  const listed: { path: string; label: string; part?: string }[] = [];
  for (const row of rows) {
    const target = targetOf.get(row);
    if (target === undefined ? isUrl(row.file) : target.file === undefined) {
      failed.push({ line: row.line, url: row.file, label: row.label, reason: target ? (target.reason ?? 'not fetched') : unsupportedScheme(row.file) });
      continue;
    }
    const file = target?.file ?? row.file;
    listed.push({ path: isWithin(file, out) ? relative(out, file).split(sep).join('/') : file, label: row.label, part: row.part });
  }
  if (listed.length === 0) {
    const first = failed[0]!;
    throw new GraftError('INVALID_DATASET', `No image of ${manifest} could be had: line ${first.line}, ${first.url}: ${first.reason}${failed.length > 1 ? ` (and ${failed.length - 1} more)` : ''}.`, {
      hint: 'check that the URLs open in a browser from this machine (behind a proxy, set HTTPS_PROXY)',
    });
  }
  await writeFileAtomic(written, manifestCsv(listed));
  return {
    manifest: written,
    rows: listed.length,
    downloaded: missing.length - missing.filter((t) => t.file === undefined).length,
    present,
    local,
    failed,
    seconds: (performance.now() - started) / 1000,
  };
}

/** Every option downloadImages reads. */
const DOWNLOAD_OPTIONS: Record<keyof DownloadImagesOptions, true> = { concurrency: true, maxBytes: true, retries: true, retryDelayMs: true, userAgent: true, signal: true, onProgress: true };

/**
 * The caller's values, before anything is fetched: a maxBytes of -5 failed every URL as "larger than -0.0000048 MB" with a
 * hint about proxies, and NaN switched the limit off.
 * @throws GraftError `INVALID_CONFIG` naming the option and the value.
 */
function checkDownloadOptions(options: DownloadImagesOptions): void {
  refuseUnknownKeys('downloadImages', options, DOWNLOAD_OPTIONS);
  const rules: [keyof DownloadImagesOptions, number | undefined, boolean, string][] = [
    ['concurrency', options.concurrency, Number.isInteger(options.concurrency) && options.concurrency! >= 1, 'a whole number >= 1'],
    ['maxBytes', options.maxBytes, Number.isFinite(options.maxBytes) && options.maxBytes! > 0, 'a number of bytes > 0'],
    ['retries', options.retries, Number.isInteger(options.retries) && options.retries! >= 0, 'a whole number >= 0'],
    ['retryDelayMs', options.retryDelayMs, Number.isFinite(options.retryDelayMs) && options.retryDelayMs! >= 0, 'a number of milliseconds >= 0'],
  ];
  for (const [name, value, isValid, rule] of rules) {
    if (value !== undefined && !isValid) throw new GraftError('INVALID_CONFIG', `downloadImages: ${name} must be ${rule}. Received: ${value}`);
  }
}

/** The folder (created) must be one: a file of that name is refused before anything is fetched. */
async function prepareFolder(out: string): Promise<void> {
  const info = await stat(out).catch(() => undefined);
  if (info !== undefined && !info.isDirectory()) {
    throw new GraftError('INVALID_CONFIG', `${out} is a file; the images go into a folder of that name.`, { hint: 'pass a folder (new or one an earlier download filled) as --out' });
  }
  await makeDirectory(out).catch((error: unknown) => {
    throw cannotWrite(out, error);
  });
}

/** A write that failed, naming the file: a full disk stays one (its cause keeps the code); anything else says what to check. */
function cannotWrite(path: string, error: unknown): Error {
  const said = error instanceof Error ? error.message : String(error);
  const message = said.includes(path) ? said : `Cannot write ${path}: ${said}`;
  if (diskFullCause(error)) return new Error(message, { cause: error });
  return new GraftError('INVALID_CONFIG', message, { hint: 'download into a folder you can write to (--out)', cause: error });
}

/**
 * A class's folder name: the label with what no file system takes (separators, control characters, `:*?"<>|`, a name
 * of dots) replaced by `_`. The manifest keeps the label itself, so two labels that share a folder stay apart.
 */
export function folderName(label: string): string {
  // eslint-disable-next-line no-control-regex
  const name = label.replace(/[/\\:*?"<>|\u0000-\u001f\u007f]/g, '_').replace(/[. ]+$/, (end) => '_'.repeat(end.length));
  return /^\.*$/.test(name) ? '_'.repeat(Math.max(1, name.length)) : name;
}

/** Marks the targets an earlier run fetched (a file `<stem>.<image extension>`), removing what a killed run left half written; returns how many. */
async function findPresent(targets: Target[]): Promise<number> {
  const byFolder = new Map<string, Target[]>();
  for (const t of targets) {
    const inFolder = byFolder.get(t.folder);
    if (inFolder) inFolder.push(t);
    else byFolder.set(t.folder, [t]);
  }
  let present = 0;
  for (const [folder, inFolder] of byFolder) {
    const entries = await readdir(folder).catch(() => [] as string[]);
    const files = new Map<string, string>();
    for (const entry of entries) {
      // writeFileAtomic's working name: `<stem>.<ext>.tmp-<pid>-<8 hex>`.
      const left = /^[0-9a-f]{16}\.\w+\.tmp-(\d+)-[0-9a-f]{8}$/.exec(entry);
      if (left && !isProcessRunning(Number(left[1]))) await rm(join(folder, entry), { force: true });
      const dot = entry.indexOf('.');
      if (dot === 16 && IMAGE_EXTENSIONS.includes(entry.slice(dot).toLowerCase())) files.set(entry.slice(0, dot), entry);
    }
    for (const t of inFolder) {
      const name = files.get(t.stem);
      if (name === undefined) continue;
      t.file = join(folder, name);
      present++;
    }
  }
  return present;
}

async function fetchAll(targets: readonly Target[], options: DownloadImagesOptions): Promise<void> {
  const concurrency = options.concurrency ?? 8;
  const started = performance.now();
  let next = 0;
  let done = 0;
  let failed = 0;
  const report = (): void => {
    const seconds = Math.max((performance.now() - started) / 1000, 1e-9);
    options.onProgress?.({ type: 'fetch', done, total: targets.length, failed, imagesPerSec: (done - failed) / seconds });
  };
  const worker = async (): Promise<void> => {
    while (next < targets.length && !options.signal?.aborted) {
      const target = targets[next++]!;
      await fetchOne(target, options);
      if (options.signal?.aborted) return;
      done++;
      if (target.file === undefined) {
        failed++;
        options.onProgress?.({ type: 'skip', file: target.url, reason: target.reason ?? 'not fetched' });
      }
      report();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, targets.length) }, worker));
}

/** Fetches one image into its folder, written whole or not at all. */
async function fetchOne(target: Target, options: DownloadImagesOptions): Promise<void> {
  const bytes = await fetchImageBytes(target.url, {
    maxBytes: options.maxBytes,
    retries: options.retries,
    retryDelayMs: options.retryDelayMs,
    userAgent: options.userAgent,
    signal: options.signal,
    onRetry: (message) => options.onProgress?.({ type: 'warning', code: 'DOWNLOAD_RETRY', message }),
  });
  if (!(bytes instanceof Uint8Array)) {
    target.reason = bytes.reason;
    return;
  }
  const format = sniffImageFormat(bytes);
  if (format === undefined) {
    target.reason = `not an image Graft reads (${READABLE_FORMATS}): ${describeBytes(bytes)}`;
    return;
  }
  await makeDirectory(target.folder).catch((error: unknown) => {
    throw cannotWrite(target.folder, error);
  });
  const file = join(target.folder, target.stem + EXTENSION_BY_FORMAT[format]);
  // The folder's leftovers were swept once, before the first fetch (findPresent).
  await writeFileAtomic(file, bytes, { removeLeftovers: false }).catch((error: unknown) => {
    throw cannotWrite(file, error);
  });
  target.file = file;
}

/** What came instead of an image, in a few words: a web page (a login wall, "photo removed"), or so many bytes of something. */
function describeBytes(bytes: Uint8Array): string {
  if (bytes.byteLength === 0) return 'the server sent nothing';
  const head = Buffer.from(bytes.subarray(0, 200)).toString('utf8').trimStart().toLowerCase();
  if (head.startsWith('<!doctype html') || head.startsWith('<html')) return `the server sent a web page (${bytes.byteLength} bytes), not the image`;
  if (head.startsWith('<svg') || (head.startsWith('<?xml') && head.includes('<svg'))) return 'an SVG drawing (render it to PNG first)';
  return `the server sent ${bytes.byteLength} bytes of something else`;
}

/** Why a URL of another scheme (`s3://`, `gs://`) is not fetched. */
function unsupportedScheme(url: string): string {
  return `only http(s) URLs are fetched; copy ${url.slice(0, url.indexOf(':'))}:// files with that service's own tool and list their paths`;
}

/** The manifest written: a split column only when the manifest read had one. */
function manifestCsv(rows: readonly { path: string; label: string; part?: string }[]): string {
  const withSplit = rows.some((r) => r.part !== undefined);
  const header = withSplit ? ['path', 'label', 'split'] : ['path', 'label'];
  return csvText([header, ...rows.map((r) => [r.path, r.label, ...(withSplit ? [r.part ?? 'train'] : [])])]);
}
