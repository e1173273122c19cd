import { Readable } from 'node:stream';

/** The most an image read from a URL or from standard input may hold: the dashboard's upload limit is 20 MB. */
export const MAX_IMAGE_BYTES = 50 * 1024 * 1024;

/** How long a URL may take, headers to last byte. */
const FETCH_TIMEOUT_MS = 30_000;

/** An argument naming an image on the web rather than a file (`graft predict model https://…/bee.jpg`). */
export function isImageUrl(argument: string): boolean {
  return /^https?:\/\//i.test(argument);
}

/** The argument that reads the image from standard input (`curl … | graft predict model -`). */
export const STDIN_ARGUMENT = '-';

/** An argument naming a file or folder on this machine: neither a URL nor standard input. */
export function isLocalPath(argument: string): boolean {
  return !isImageUrl(argument) && argument !== STDIN_ARGUMENT;
}

/**
 * The bytes of the image at `url`, or why there are none (a reason for the row of that image, as an unreadable file
 * has): an HTTP error status, a network failure, a timeout, or a body over `maxBytes` (read no further).
 */
export async function fetchImageBytes(url: string, maxBytes = MAX_IMAGE_BYTES): Promise<Uint8Array | { reason: string }> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), redirect: 'follow' });
  } catch (error) {
    return { reason: fetchFailure(error) };
  }
  if (!response.ok) {
    await response.body?.cancel();
    return { reason: `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}` };
  }
  try {
    const bytes = await readLimited(response.body, maxBytes);
    return bytes ?? { reason: `larger than ${maxBytes / 1024 / 1024} MB` };
  } catch (error) {
    return { reason: fetchFailure(error) };
  }
}

/** Standard input's bytes (the image piped in), or why there are none: empty, a terminal, or over `maxBytes`. */
export async function readStdinImage(maxBytes = MAX_IMAGE_BYTES): Promise<Uint8Array | { reason: string }> {
  if (process.stdin.isTTY) return { reason: 'standard input is a terminal: pipe an image in (e.g. curl -s <url> | graft predict <model> -)' };
  const bytes = await readLimited(Readable.toWeb(process.stdin) as ReadableStream<Uint8Array>, maxBytes);
  if (!bytes) return { reason: `larger than ${maxBytes / 1024 / 1024} MB` };
  return bytes.byteLength === 0 ? { reason: 'nothing on standard input' } : bytes;
}

/** A stream's bytes, or undefined once they pass `maxBytes` (the rest is not read). */
async function readLimited(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<Uint8Array | undefined> {
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
