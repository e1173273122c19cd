import { Readable } from 'node:stream';
import { isImageUrl, MAX_IMAGE_BYTES, readLimited } from '../data/fetch-image.js';

/** The argument that reads the image from standard input (`curl … | graft predict model -`). */
export const STDIN_ARGUMENT = '-';

/** An argument naming a file or folder on this machine: neither a URL nor standard input. */
export function isLocalPath(argument: string): boolean {
  return !isImageUrl(argument) && argument !== STDIN_ARGUMENT;
}

/** Standard input's bytes (the image piped in), or why there are none: empty, a terminal, or over `maxBytes`. */
export async function readStdinImage(maxBytes = MAX_IMAGE_BYTES): Promise<Uint8Array | { reason: string }> {
  if (process.stdin.isTTY) return { reason: 'standard input is a terminal: pipe an image in (e.g. curl -s <url> | graft predict <model> -)' };
  const bytes = await readLimited(Readable.toWeb(process.stdin) as ReadableStream<Uint8Array>, maxBytes);
  if (!bytes) return { reason: `larger than ${maxBytes / 1024 / 1024} MB` };
  return bytes.byteLength === 0 ? { reason: 'nothing on standard input' } : bytes;
}
