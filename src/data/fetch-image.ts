/**
 * Images read from the web: one for `graft predict <url>`, many for `graft download` (a manifest's URLs). Bounded in
 * size and time, and retried where a failure may pass.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { retryAfterMs, retryNotice, TRANSIENT_STATUSES } from '../core/http-retry.js';

/** The most an image read from a URL or from standard input may hold: the dashboard's upload limit is 20 MB. */
export const MAX_IMAGE_BYTES = 50 * 1024 * 1024;

/** How long a URL may take, headers to last byte. */
const FETCH_TIMEOUT_MS = 30_000;

/** A string naming an image on the web rather than a file (`graft predict model https://…/bee.jpg`). */
export function isImageUrl(argument: string): boolean {
  return /^https?:\/\//i.test(argument);
}

export interface FetchImageOptions {
  /** The most bytes the image may hold; a larger body is not read further. Defaults to {@link MAX_IMAGE_BYTES}. */
  readonly maxBytes?: number;
  /**
   * Tries again after a failure that may pass (a refused or reset connection, a transfer cut off, HTTP 408, 429 and
   * 5xx) this many times, within the one 30 s limit. Defaults to 2.
   */
  readonly retries?: number;
  /** The wait before the first retry, doubled before each next one, unless the server says (Retry-After). Defaults to 1 s. */
  readonly retryDelayMs?: number;
  /** Told before each retry: why, and when. */
  readonly onRetry?: (message: string) => void;
  /** Stops the request (and any wait before a retry) when raised: the user pressed Ctrl+C. */
  readonly signal?: AbortSignal;
  /** Sent as `User-Agent` (sites such as Wikimedia refuse clients that do not say who they are). Defaults to fetch's own. */
  readonly userAgent?: string;
}

/** One try's outcome: the bytes, or why not, whether the same request may fare better, and when the server says to ask. */
type Attempt = Uint8Array | { reason: string; mayPass: boolean; retryAfterMs?: number };

/**
 * The bytes of the image at `url`, or why there are none (a reason for the row of that image, as an unreadable file
 * has): an HTTP error status, a network failure, a timeout, or a body over `maxBytes` (read no further). A failure
 * that may pass is tried again, as curl's `--retry` and pip do, after 1 s and 2 s (or the server's Retry-After), all
 * within 30 s for the image.
 */
export async function fetchImageBytes(url: string, options: FetchImageOptions = {}): Promise<Uint8Array | { reason: string }> {
  const retries = options.retries ?? 2;
  const deadline = Date.now() + FETCH_TIMEOUT_MS;
  const signal = options.signal ? AbortSignal.any([AbortSignal.timeout(FETCH_TIMEOUT_MS), options.signal]) : AbortSignal.timeout(FETCH_TIMEOUT_MS);
  const headers = options.userAgent ? { 'user-agent': options.userAgent } : undefined;
  for (let attempt = 1; ; attempt++) {
    const outcome = await fetchOnce(url, options.maxBytes ?? MAX_IMAGE_BYTES, signal, headers);
    if (options.signal?.aborted) return { reason: 'cancelled' };
    if (outcome instanceof Uint8Array) return outcome;
    const tried = attempt > 1 ? ` (tried ${attempt} times)` : '';
    if (!outcome.mayPass || signal.aborted || attempt > retries) return { reason: `${outcome.reason}${tried}` };
    const wait = outcome.retryAfterMs ?? (options.retryDelayMs ?? 1000) * 2 ** (attempt - 1);
    if (Date.now() + wait >= deadline) {
      const asked = outcome.retryAfterMs === undefined ? '' : `; the server asks to wait ${Math.ceil(wait / 1000)} s`;
      return { reason: `${outcome.reason}${tried}${asked}` };
    }
    options.onRetry?.(retryNotice(`${url}: ${outcome.reason}`, wait, attempt, retries));
    await delay(wait, undefined, { signal: options.signal }).catch(() => undefined);
  }
}

async function fetchOnce(url: string, maxBytes: number, signal: AbortSignal, headers: Record<string, string> | undefined): Promise<Attempt> {
  let response: Response;
  try {
    response = await fetch(url, { signal, redirect: 'follow', headers });
  } catch (error) {
    // A refused or reset connection may come back; a host no resolver knows, a redirect loop, a redirect to another
    // scheme (file:, ftp:) or the time limit will not.
    const reason = fetchFailure(error);
    return { reason, mayPass: !signal.aborted && !/ENOTFOUND|redirect|URL scheme/i.test(reason) };
  }
  if (!response.ok) {
    await response.body?.cancel();
    const reason = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
    return { reason, mayPass: TRANSIENT_STATUSES.has(response.status), retryAfterMs: retryAfterMs(response) };
  }
  try {
    const bytes = await readLimited(response.body, maxBytes);
    return bytes ?? { reason: `larger than ${maxBytes / 1024 / 1024} MB`, mayPass: false };
  } catch (error) {
    // The transfer broke off: the next request may get it whole.
    return { reason: fetchFailure(error), mayPass: !signal.aborted };
  }
}

/** A stream's bytes, or undefined once they pass `maxBytes` (the rest is not read). */
export async function readLimited(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<Uint8Array | undefined> {
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

function fetchFailure(error: unknown): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return `no answer within ${FETCH_TIMEOUT_MS / 1000} s`;
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : undefined;
  return `cannot fetch: ${cause ?? (error instanceof Error ? error.message : String(error))}`;
}
