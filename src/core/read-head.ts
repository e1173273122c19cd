import { closeSync, openSync, readSync } from 'node:fs';

/** The first `bytes` bytes of `file` (fewer when it is shorter), read without loading the rest: for magic numbers. */
export function readHead(file: string, bytes: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(bytes);
    const read = readSync(fd, buffer, 0, bytes, 0);
    return buffer.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}
