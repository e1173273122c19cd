import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GraftError } from '../errors.js';
import type { ProgressEvent } from '../progress.js';

export interface DownloadOptions {
  /** Expected sha256; a mismatch deletes the file and throws. */
  readonly sha256?: string;
  readonly onProgress?: (event: ProgressEvent) => void;
  /** Abort after this long without finishing. Defaults to 10 minutes. */
  readonly timeoutMs?: number;
}

/**
 * Downloads `url` to `dest` atomically: the bytes go to `dest.partial-<pid>` and are renamed into place only
 * after the transfer finished and the hash matched, so a killed download never leaves a file that looks complete.
 * Redirects are followed (fetch's default). Returns the sha256 of the bytes.
 */
export async function downloadFile(url: string, dest: string, options: DownloadOptions = {}): Promise<string> {
  await mkdir(dirname(dest), { recursive: true });
  const partial = `${dest}.partial-${process.pid}`;
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs ?? 600_000) });
  } catch (cause) {
    throw new GraftError('OFFLINE', `Could not download ${url}: ${(cause as Error).message}`, {
      cause,
      hint: 'check the network, or download the file yourself and pass its local path with --backbone <path>',
    });
  }
  if (!response.ok || !response.body) {
    throw new GraftError('MODEL_NOT_FOUND', `Download of ${url} failed: HTTP ${response.status} ${response.statusText}`, {
      hint: 'check the URL, or pass a local file with --backbone <path>',
    });
  }
  const total = Number(response.headers.get('content-length') ?? 0) || undefined;
  const hash = createHash('sha256');
  let loaded = 0;
  const body = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>);
  body.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    loaded += chunk.length;
    options.onProgress?.({ type: 'download', file: url, loaded, total });
  });
  try {
    await pipeline(body, createWriteStream(partial));
  } catch (cause) {
    await rm(partial, { force: true });
    throw new GraftError('OFFLINE', `Download of ${url} was interrupted after ${loaded} bytes`, { cause, hint: 'run the command again' });
  }
  const sha256 = hash.digest('hex');
  if (options.sha256 && sha256 !== options.sha256) {
    await rm(partial, { force: true });
    throw new GraftError('MODEL_NOT_FOUND', `Downloaded ${url} but its sha256 is ${sha256}, expected ${options.sha256}`, {
      hint: 'the file changed upstream or the transfer was corrupted; nothing was kept. Try again or use a local copy.',
    });
  }
  await rename(partial, dest);
  return sha256;
}
