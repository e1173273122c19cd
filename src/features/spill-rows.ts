import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { GraftError } from '../core/errors.js';
import { optionName } from '../core/option-name.js';
import type { FeatureRows, RowSource } from './feature-rows.js';
import { makeWorkDir, removeWorkDir } from './work-dir.js';

/** Rows copied once into a flat local file, read back by position: see {@link spillRows}. */
export interface SpilledRows extends RowSource {
  /** Label id of every row (4 bytes a row: kept in memory). */
  readonly labels: Int32Array;
  /** Class names, index = label id. */
  readonly classNames: readonly string[];
  /** The file (removed by close). */
  readonly file: string;
  /**
   * The files of the given rows (ascending row indexes), read back from a side file written in the same pass; `#<row>`
   * for rows that came without paths (see FeatureBlock.paths).
   */
  filesOf(rows: readonly number[]): string[];
  /** Removes the file; reads fail afterwards. */
  close(): void;
}

/** Options for {@link spillRows}. */
export interface SpillOptions {
  /** Folder for the file (a local disk with rows x dim x 4 bytes free). Defaults to the OS temporary folder. */
  readonly workDir?: string;
  /** Rows per block of the copy pass. Defaults to 1024. */
  readonly rowsPerBlock?: number;
  /** Called after each block of the copy pass with the rows copied so far. */
  readonly onRows?: (copied: number) => void;
}

/**
 * Copies every row of `rows` (e.g. the shards of a store, read through SQLite) into one flat float32 file in a fresh
 * temporary folder, in the same order, so that a full-batch solver can make its many passes at file speed with memory
 * bounded by one block. The file is read with positioned reads into one reused buffer; the operating system's page
 * cache, not this process, holds what fits (process memory stays flat as rows grow).
 *
 * Reading 900k rows of 1280 floats from eight SQLite shards takes 20 s (page cache warm) to 110 s (cores shared) on
 * this machine (bench/RESULTS.md), and the copy is one such pass: it pays for itself from a solver's second pass on.
 *
 * @example
 * const spilled = spillRows(new ShardRows(set, { part: 0 }));
 * try {
 *   const block = spilled.read(0, 4096);
 * } finally {
 *   spilled.close();
 * }
 */
export function spillRows(rows: FeatureRows, options: SpillOptions = {}): SpilledRows {
  const folder = makeWorkDir(options.workDir, 'graft-rows-', `the local copy of the rows: ${rows.count} rows x ${rows.dim} x 4 bytes`);
  const file = join(folder, 'rows.f32');
  const pathsFile = join(folder, 'paths.txt');
  const labels = new Int32Array(rows.count);
  const dim = rows.dim;
  // Both files are closed, and the folder removed, whatever fails: a failed open or write (a full disk, no file
  // descriptor left) must not keep a descriptor open for the life of the process.
  let fd = -1;
  let pathsFd = -1;
  try {
    fd = openSync(file, 'w+');
    pathsFd = openSync(pathsFile, 'w');
    let position = 0;
    rows.forEachBlock((block) => {
      writeAll(fd, new Uint8Array(block.data.buffer, block.data.byteOffset, block.count * dim * 4), position);
      position += block.count * dim * 4;
      // One path a line (a path with a line break in it is written escaped as JSON).
      const lines = Array.from({ length: block.count }, (_, i) => lineOf(block.paths?.[i] ?? `#${block.start + i}`));
      writeAll(pathsFd, Buffer.from(lines.join('')));
      labels.set(block.labels, block.start);
      options.onRows?.(block.start + block.count);
    }, options.rowsPerBlock);
  } catch (error) {
    if (fd >= 0) closeSync(fd);
    removeWorkDir(folder);
    throw namedFileError(error, folder, rows.count * dim * 4);
  } finally {
    if (pathsFd >= 0) closeSync(pathsFd);
  }
  let buffer = new Float32Array(0);
  const close = (): void => {
    if (fd < 0) return;
    closeSync(fd);
    fd = -1;
    removeWorkDir(folder);
  };
  return {
    count: rows.count,
    dim,
    labels,
    classNames: rows.labels,
    file,
    read(start, count) {
      if (fd < 0) throw new Error(`spillRows: ${file} was closed`);
      if (!(start >= 0 && count >= 0 && start + count <= rows.count)) throw new RangeError(`spillRows: rows [${start}, ${start + count}) are outside [0, ${rows.count})`);
      if (buffer.length < count * dim) buffer = new Float32Array(count * dim);
      const view = new Uint8Array(buffer.buffer, 0, count * dim * 4);
      for (let done = 0; done < view.length; ) {
        const n = readSync(fd, view, done, view.length - done, start * dim * 4 + done);
        if (n === 0) throw new Error(`spillRows: ${file} ended early (rows [${start}, ${start + count}))`);
        done += n;
      }
      return buffer.subarray(0, count * dim);
    },
    filesOf(wanted) {
      const out: string[] = [];
      let row = 0;
      let next = 0;
      for (const line of readLines(pathsFile)) {
        if (next >= wanted.length) break;
        if (row === wanted[next]) {
          out.push(line.startsWith('"') ? (JSON.parse(line) as string) : line);
          next++;
        }
        row++;
      }
      return out;
    },
    close,
  };
}

/** A file system failure (a full disk) as the error a user can act on: which folder, and the option that moves it. */
function namedFileError(error: unknown, folder: string, bytes: number): unknown {
  if (error instanceof GraftError || typeof (error as NodeJS.ErrnoException).code !== 'string') return error;
  const size = bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${Math.ceil(bytes / 1e6)} MB`;
  // A full disk stays one (DISK_FULL, exit 4) however it is wrapped; the message says how much room the copy needs.
  return new GraftError('INVALID_CONFIG', `Cannot write the local copy of the rows in ${folder} (${(error as Error).message}; it needs ${size})`, {
    hint: `pass ${optionName('workDir')} a local folder with ${size} free`,
    cause: error,
  });
}

function writeAll(fd: number, bytes: Uint8Array, position?: number): void {
  for (let written = 0; written < bytes.length; ) {
    written += writeSync(fd, bytes, written, bytes.length - written, position === undefined ? null : position + written);
  }
}

function lineOf(path: string): string {
  return /[\n\r]/.test(path) || path.startsWith('"') ? `${JSON.stringify(path)}\n` : `${path}\n`;
}

/** The lines of a file, read in 1 MiB chunks. */
function* readLines(file: string): Generator<string, void, undefined> {
  const fd = openSync(file, 'r');
  try {
    const chunk = Buffer.alloc(1 << 20);
    // A chunk may end inside a character: the decoder keeps its first bytes for the next chunk.
    const decoder = new StringDecoder('utf8');
    let rest = '';
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      const lines = (rest + decoder.write(chunk.subarray(0, n))).split('\n');
      rest = lines.pop()!;
      yield* lines;
    }
    if (rest) yield rest;
  } finally {
    closeSync(fd);
  }
}
