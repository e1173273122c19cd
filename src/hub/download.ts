import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { copyFile, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GraftError } from '../core/errors.js';
import { retryAfterMs, retryNotice, TRANSIENT_STATUSES } from '../core/http-retry.js';
import type { ProgressEvent } from '../core/progress.js';
import { sha256File } from '../core/sha256-file.js';
import { acquireFileLock } from './file-lock.js';
import { makeDirectory } from '../core/make-directory.js';

export interface DownloadOptions {
  /** Expected sha256; a mismatch deletes the partial file and throws. */
  readonly sha256?: string;
  readonly onProgress?: (event: ProgressEvent) => void;
  /**
   * Gives up on an attempt when no byte has come for this long (connecting, or between two chunks): a server that
   * stopped sending. The attempt is then retried, resuming. Defaults to 30 s. A slow transfer that keeps sending is
   * never cut off (a cap on the whole transfer cut healthy ones past 10 minutes, and each stall waited 5 minutes).
   */
  readonly idleTimeoutMs?: number;
  /**
   * A `<dest>.lock` older than this is taken to belong to a dead process and is removed. Defaults to 10 minutes. A
   * lock whose process (on this host) is gone is removed at once.
   */
  readonly lockStaleMs?: number;
  /** Stops the transfer, or the wait for another process's, at once: the download fails with CANCELLED. */
  readonly signal?: AbortSignal;
  /**
   * Tries again after a failure that may pass (the network, a transfer cut off, HTTP 408, 429 and 5xx) this many
   * times, resuming from the bytes kept. Defaults to 3.
   */
  readonly retries?: number;
  /** The wait before the first retry, doubled before each next one, unless the server says (Retry-After). Defaults to 1 s. */
  readonly retryDelayMs?: number;
}

/** The longest Retry-After a download waits for before trying again; a longer one is a failure now. */
const MAX_RETRY_AFTER_MS = 60_000;

/** A failure the same request may not meet again: what to report if it does, and how long the server asked to wait. */
class TransientFailure {
  constructor(
    readonly error: GraftError,
    readonly retryAfterMs?: number,
  ) {}
}

/** How long an attempt waits for the next byte before it is given up and retried. */
const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

/** An attempt given up because the server sent nothing for `idleMs`. */
function stalled(url: string, loaded: number, total: number | undefined, idleMs: number, partial: string): GraftError {
  return new GraftError('OFFLINE', `Download of ${url} stalled: no byte came for ${idleMs / 1000} s (after ${loaded} bytes${total ? ` of ${total}` : ''})`, {
    hint: `run the command again later: it resumes from the bytes kept in ${partial}`,
  });
}

/** How often a live download refreshes its lock's mtime, so that a long transfer is never taken for a stale one. */
const LOCK_REFRESH_MS = 30_000;

/**
 * Downloads `url` to `dest`, resumably and atomically.
 *
 * The bytes go to `<dest>.partial`, a stable name: an interrupted run leaves it behind and the next run asks for the
 * rest with `Range: bytes=<size>-` and `If-Range: <the first reply's ETag or Last-Modified>` (kept in
 * `<dest>.partial.validator`), so a file that changed upstream is sent whole (200) instead of appended to the old
 * bytes; without a validator the download starts again from zero. A 206 reply is appended; a 200 (the server
 * ignores ranges) starts again from zero. A reply that is an HTML page (an error or login page served with 200) is
 * refused. The sha256 covers the whole file (the bytes already on disk are hashed first) and the file is renamed into
 * place only when it matches, so `dest` existing always means a complete, verified download. `<dest>.lock`, created
 * exclusively, keeps two processes from writing the same partial file; the second waits and then finds `dest` done.
 * Redirects are followed (fetch's default). A failure that may pass (the network, a transfer cut off, HTTP 408, 429,
 * 5xx) is tried again up to `retries` times, after 1, 2, 4 s (or the server's Retry-After), resuming from the bytes
 * kept, each retry said by a `DOWNLOAD_RETRY` warning, as pip and the Hugging Face hub do.
 *
 * @returns the sha256 of the file.
 * @throws GraftError OFFLINE when the network fails or the transfer breaks off (the partial file is kept; run again
 *   to resume), MODEL_NOT_FOUND for an HTTP error or a wrong sha256 (the partial file is deleted).
 */
export async function downloadFile(url: string, dest: string, options: DownloadOptions = {}): Promise<string> {
  await makeDirectory(dirname(dest));
  const release = await acquireFileLock(`${dest}.lock`, {
    staleMs: options.lockStaleMs ?? 600_000,
    signal: options.signal,
    onCancel: () => downloadCancelled(dest),
    onWait: (pid) => options.onProgress?.({ type: 'warning', code: 'DOWNLOAD_WAITING', message: `Waiting for another graft process${pid ? ` (pid ${pid})` : ''} that downloads ${url} (lock ${dest}.lock)` }),
  });
  try {
    // Another process may have finished it while this one waited for the lock.
    if (existsSync(dest)) {
      const sha256 = await sha256File(dest);
      if (!options.sha256 || sha256 === options.sha256) return sha256;
    }
    for (let attempt = 1; ; attempt++) {
      try {
        return await transfer(url, dest, options, release.touch);
      } catch (failure) {
        if (!(failure instanceof TransientFailure)) throw failure;
        const retries = options.retries ?? 3;
        const wait = failure.retryAfterMs ?? (options.retryDelayMs ?? 1000) * 2 ** (attempt - 1);
        if (wait > MAX_RETRY_AFTER_MS) {
          const minutes = Math.ceil(wait / 60_000);
          throw amended(failure.error, `; the server asks to wait ${minutes} minute${minutes === 1 ? '' : 's'} before trying again`);
        }
        if (attempt > retries) throw attempt > 1 ? amended(failure.error, ` (tried ${attempt} times)`) : failure.error;
        options.onProgress?.({ type: 'warning', code: 'DOWNLOAD_RETRY', message: retryNotice(failure.error.message, wait, attempt, retries) });
        await sleepUnlessCancelled(wait, options.signal, url);
      }
    }
  } finally {
    await release.release();
  }
}

/** The error with more said at the end of its message (how often it was tried, how long the server asks to wait). */
function amended(error: GraftError, addition: string): GraftError {
  return new GraftError(error.code, `${error.message}${addition}`, { cause: error.cause, ...(error.hint ? { hint: error.hint } : {}) });
}

async function sleepUnlessCancelled(ms: number, signal: AbortSignal | undefined, url: string): Promise<void> {
  if (signal?.aborted) throw downloadCancelled(url);
  await new Promise<void>((resolve, reject) => {
    const cancel = () => {
      clearTimeout(timer);
      reject(downloadCancelled(url));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', cancel);
      resolve();
    }, ms);
    signal?.addEventListener('abort', cancel, { once: true });
  });
}

async function transfer(url: string, dest: string, options: DownloadOptions, touchLock: () => void): Promise<string> {
  const idle = new IdleTimeout(options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS);
  try {
    return await transferWithin(url, dest, options, touchLock, idle);
  } finally {
    idle.stop();
  }
}

/** An abort signal that fires when `ms` pass without {@link IdleTimeout.touch}: a server that stopped sending. */
class IdleTimeout {
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout;

  constructor(readonly ms: number) {
    this.signal = this.controller.signal;
    this.timer = setTimeout(() => this.controller.abort(), ms);
  }

  /** Bytes came: the wait starts again. */
  touch(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.controller.abort(), this.ms);
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}

/** {@link transfer} under the caller's signal and the idle timeout's. */
async function transferWithin(url: string, dest: string, options: DownloadOptions, touchLock: () => void, idle: IdleTimeout): Promise<string> {
  const signal = options.signal ? AbortSignal.any([idle.signal, options.signal]) : idle.signal;
  const partial = `${dest}.partial`;
  const validatorFile = `${partial}.validator`;
  const hasPartial = existsSync(partial);
  const validator = hasPartial ? await readFile(validatorFile, 'utf8').catch(() => '') : '';
  // Bytes are resumed only under the validator they came with: without one, a changed file would be glued onto them.
  let offset = validator ? (await stat(partial)).size : 0;
  // A fetch stopped by the caller's signal (Ctrl+C while connecting) is a cancel, not a network failure.
  const get = (from: number, ifRange: string): Promise<Response> =>
    request(url, from, ifRange, signal).catch((error: unknown) => {
      if (options.signal?.aborted) throw downloadCancelled(url);
      // The network (a refused connection, a reset) may come back; a redirect loop or our own timeout will not.
      // A host name that does not exist (ENOTFOUND) is not the network's passing trouble either.
      if (idle.signal.aborted) throw new TransientFailure(stalled(url, offset, undefined, idle.ms, partial));
      const mayPass = error instanceof GraftError && error.code === 'OFFLINE' && !/redirect|ENOTFOUND/i.test(error.message);
      throw mayPass ? new TransientFailure(error) : error;
    });
  let response = await get(offset, validator);
  let start = offset > 0 ? rangeStart(response) : 0;
  if (offset > 0 && (response.status === 416 || (response.status === 206 && start !== offset))) {
    // The partial file is not a prefix the server agrees with (it changed, or the partial is already too long).
    await response.body?.cancel();
    offset = 0;
    response = await get(0, '');
    start = 0;
  }
  if (TRANSIENT_STATUSES.has(response.status)) {
    await response.body?.cancel();
    throw new TransientFailure(
      new GraftError('OFFLINE', `Download of ${url} failed: HTTP ${response.status} ${response.statusText} (the server's trouble, which may pass)`, {
        hint: 'run the command again later, or set GRAFT_HUB_MIRROR to another server, or pass a local file with --backbone <path>',
      }),
      retryAfterMs(response),
    );
  }
  if (!response.ok || !response.body) {
    throw new GraftError('MODEL_NOT_FOUND', `Download of ${url} failed: HTTP ${response.status} ${response.statusText}`, {
      hint: 'check the URL (or the mirror that serves it), or pass a local file with --backbone <path>',
    });
  }
  if (/^text\/html\b/i.test(response.headers.get('content-type') ?? '')) {
    await response.body.cancel();
    throw new GraftError('MODEL_NOT_FOUND', `${url} answered with an HTML page, not a model file`, {
      hint: 'the address is a web page (or an error or sign-in page); use the address of the file itself, e.g. the .onnx file or model.json (TF Hub: add ?tfjs-format=file)',
    });
  }
  const isResumed = offset > 0 && response.status === 206;
  const hash = createHash('sha256');
  if (isResumed) await hashFileInto(partial, hash);
  else {
    offset = 0;
    await writeValidator(validatorFile, response);
  }
  const total = totalSize(response, offset);
  let loaded = offset;
  let lastTouch = Date.now();
  const body = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>);
  body.on('data', (chunk: Buffer) => {
    idle.touch();
    hash.update(chunk);
    loaded += chunk.length;
    try {
      options.onProgress?.({ type: 'download', file: url, loaded, total });
    } catch (error) {
      // A listener that throws (a cancelled run's) ends the transfer; thrown from here it would escape every catch.
      body.destroy(error as Error);
      return;
    }
    if (Date.now() - lastTouch > LOCK_REFRESH_MS) {
      lastTouch = Date.now();
      touchLock();
    }
  });
  try {
    await pipeline(body, createWriteStream(partial, { flags: isResumed ? 'a' : 'w' }));
  } catch (cause) {
    if (cause instanceof GraftError) throw cause;
    if (options.signal?.aborted) throw downloadCancelled(url);
    // The file could not be written (a full disk, a file size limit): running again would fail the same way.
    if ((cause as NodeJS.ErrnoException).syscall === 'write' || (cause as NodeJS.ErrnoException).syscall === 'open') {
      throw new GraftError('CACHE_ERROR', `Cannot write ${partial} (${(cause as Error).message})`, {
        cause,
        hint: 'free space on its disk (the bytes written are kept: the next run resumes from them), or point GRAFT_CACHE_DIR (--cache-dir) at another disk',
      });
    }
    // Cut off, or stalled (no byte for idleMs): either may pass, and the next attempt resumes from the bytes kept.
    throw new TransientFailure(
      idle.signal.aborted
        ? stalled(url, loaded, total, idle.ms, partial)
        : new GraftError('OFFLINE', `Download of ${url} was interrupted after ${loaded} bytes${total ? ` of ${total}` : ''}`, {
            cause,
            hint: `run the command again: it resumes from the ${loaded} bytes kept in ${partial}`,
          }),
    );
  }
  if (total !== undefined && loaded !== total) {
    throw new TransientFailure(
      new GraftError('OFFLINE', `Download of ${url} ended after ${loaded} of ${total} bytes`, {
        hint: `run the command again: it resumes from the bytes kept in ${partial}`,
      }),
    );
  }
  const sha256 = hash.digest('hex');
  await rm(validatorFile, { force: true });
  if (options.sha256 && sha256 !== options.sha256) {
    await rm(partial, { force: true });
    throw new GraftError('MODEL_NOT_FOUND', `Downloaded ${url} but its sha256 is ${sha256}, expected ${options.sha256}`, {
      hint: 'the file changed upstream, the mirror serves another file, or the transfer was corrupted; nothing was kept. Try again or use a local copy with --backbone <path>.',
    });
  }
  await rename(partial, dest);
  return sha256;
}

/** A download stopped by the caller's signal (Ctrl+C): the partial file is kept for the next run to resume. */
export function downloadCancelled(what: string): GraftError {
  return new GraftError('CANCELLED', `The download of ${what} was cancelled`, { hint: 'run the command again: it resumes from the bytes kept' });
}

/** GET `url`, asking for the bytes from `offset` on (if they are still those `validator` names) when there are some. */
async function request(url: string, offset: number, validator: string, signal: AbortSignal): Promise<Response> {
  try {
    return await fetch(url, { signal, headers: offset > 0 ? { range: `bytes=${offset}-`, 'if-range': validator } : {} });
  } catch (cause) {
    // fetch says only "fetch failed"; what failed (DNS, a refused connection, a redirect loop) is in its cause.
    const reason = (cause as Error & { cause?: Error }).cause?.message ?? (cause as Error).message;
    const isRedirectLoop = /redirect/i.test(reason);
    throw new GraftError('OFFLINE', `Could not download ${url}: ${reason}`, {
      cause,
      hint: isRedirectLoop
        ? 'the server sends the request round in redirects; check the URL, or download the file yourself and pass its local path with --backbone <path>'
        : 'check the network (or set GRAFT_HUB_MIRROR), or download the file yourself and pass its local path with --backbone <path> (or put it in the folder GRAFT_MODELS_DIR names)',
    });
  }
}

/** Keeps what identifies this version of the file (a strong ETag, else Last-Modified) for a later resume's If-Range. */
async function writeValidator(file: string, response: Response): Promise<void> {
  const etag = response.headers.get('etag');
  const validator = etag && !etag.startsWith('W/') ? etag : response.headers.get('last-modified');
  if (validator) await writeFile(file, validator);
  else await rm(file, { force: true });
}

/** First byte of a 206 reply, from `Content-Range: bytes <start>-<end>/<total>`; -1 when absent or unreadable. */
function rangeStart(response: Response): number {
  if (response.status !== 206) return -1;
  const match = /^bytes\s+(\d+)-/i.exec(response.headers.get('content-range') ?? '');
  return match ? Number(match[1]) : -1;
}

/** Size of the whole file: Content-Range's total for a 206, offset + Content-Length otherwise. */
function totalSize(response: Response, offset: number): number | undefined {
  const match = /\/(\d+)\s*$/.exec(response.headers.get('content-range') ?? '');
  if (response.status === 206 && match) return Number(match[1]);
  const length = Number(response.headers.get('content-length') ?? Number.NaN);
  // A compressed reply's Content-Length counts encoded bytes, not the file's; fetch hands over decoded ones.
  if (!Number.isFinite(length) || response.headers.get('content-encoding')) return undefined;
  return offset + length;
}

async function hashFileInto(file: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
}

/**
 * Copies a local file (a directory mirror's copy) to `dest` the same way a download lands: through `<dest>.partial`,
 * verified, renamed into place.
 * @throws GraftError MODEL_NOT_FOUND when `source` is missing or its sha256 is wrong (nothing is kept).
 */
export async function copyFileVerified(source: string, dest: string, options: Pick<DownloadOptions, 'sha256' | 'onProgress'> & { readonly url?: string } = {}): Promise<string> {
  const what = options.url ? `${source} (mirror of ${options.url})` : source;
  if (!existsSync(source)) {
    throw new GraftError('MODEL_NOT_FOUND', `The mirror has no ${what}`, {
      hint: 'put the file there, fix GRAFT_HUB_MIRROR or the mirrors in the config file, or pass --backbone <local path>',
    });
  }
  const sha256 = await sha256File(source);
  if (options.sha256 && sha256 !== options.sha256) {
    throw new GraftError('MODEL_NOT_FOUND', `${what} has sha256 ${sha256}, expected ${options.sha256}`, {
      hint: 'the mirror holds another version of the file; nothing was copied',
    });
  }
  await makeDirectory(dirname(dest));
  const partial = `${dest}.partial-copy-${process.pid}`;
  await copyFile(source, partial);
  await rename(partial, dest);
  const size = (await stat(dest)).size;
  options.onProgress?.({ type: 'download', file: options.url ?? source, loaded: size, total: size });
  return sha256;
}
