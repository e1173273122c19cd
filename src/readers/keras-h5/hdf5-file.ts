import { open, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Attribute, Dataset, File as H5File, Group } from 'h5wasm';
import { GraftError } from '../../core/errors.js';

/** The h5wasm objects Graft reads: groups, datasets and their attributes (read-only). */
export type Hdf5Group = Group;
export type Hdf5Dataset = Dataset;

/** A read-only HDF5 file opened with h5wasm; call `close()` in `finally`. */
export interface Hdf5File {
  readonly path: string;
  readonly root: Hdf5Group;
  close(): void;
}

/** HDF5's format signature; the superblock sits at offset 0, 512, 1024, 2048, ... (a user block may precede it). */
const SIGNATURE = Uint8Array.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * Opens an HDF5 file read-only.
 *
 * The signature and the superblock's end-of-file address are checked in JavaScript first: libhdf5 (wasm)
 * reports a truncated or foreign file only as a screenful of HDF5-DIAG lines on stderr and an opaque
 * "name not defined" error, so those two common cases get a precise GraftError without reaching it.
 *
 * @throws GraftError `MODEL_NOT_FOUND` when the file is missing; `INVALID_MODEL_DIR` when it is not HDF5,
 *   is truncated, or libhdf5 cannot open it.
 */
export async function openHdf5(path: string): Promise<Hdf5File> {
  const absolute = resolve(path);
  const size = await fileSize(absolute);
  await checkSuperblock(absolute, size);
  // Loaded on first use: the wasm module is 4 MB and only .h5 users need it.
  const h5wasm = await import('h5wasm/node');
  const module = await h5wasm.ready;
  // libhdf5 prints its error stack (dozens of HDF5-DIAG lines) to stderr and h5wasm then returns an invalid
  // handle; the throwing handler puts that stack into an exception instead, which becomes one GraftError.
  module.activate_throwing_error_handler();
  let file: H5File;
  try {
    file = new h5wasm.File(absolute, 'r');
    if (file.file_id < 0n) throw new Error('invalid file handle');
  } catch (error) {
    throw new GraftError('INVALID_MODEL_DIR', `libhdf5 could not open ${absolute}: ${hdf5Reason(error)}`, {
      cause: error,
      hint: 'the file is damaged; save or download the model again',
    });
  }
  return { path: absolute, root: file, close: () => file.close() };
}

/** The first line of libhdf5's error stack that says what failed (e.g. "H5Fopen(): unable to ... open file"). */
function hdf5Reason(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const frame = /in (H5\w+\(\)): ([^\n]+)/.exec(text);
  return frame ? `${frame[1]}: ${frame[2]!.trim()}` : text.split('\n')[0]!.trim();
}

async function fileSize(path: string): Promise<number> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new Error('not a regular file');
    return info.size;
  } catch (error) {
    throw new GraftError('MODEL_NOT_FOUND', `Cannot read the Keras .h5 file at ${path}.`, { cause: error, hint: 'check the path' });
  }
}

async function checkSuperblock(path: string, size: number): Promise<void> {
  const handle = await open(path, 'r');
  try {
    for (let offset = 0; offset < size; offset = offset === 0 ? 512 : offset * 2) {
      const head = new Uint8Array(64);
      const { bytesRead } = await handle.read(head, 0, 64, offset);
      if (bytesRead < SIGNATURE.length || !SIGNATURE.every((b, i) => head[i] === b)) continue;
      const eof = storedEndOfFile(head.subarray(0, bytesRead));
      if (eof !== undefined && offset + eof > size) {
        throw new GraftError('INVALID_MODEL_DIR', `${path} is truncated: it holds ${size} bytes but its HDF5 superblock says ${offset + eof}.`, {
          hint: 'the download or copy was cut short; fetch the file again',
        });
      }
      return;
    }
  } finally {
    await handle.close();
  }
  throw new GraftError('INVALID_MODEL_DIR', `${path} is not an HDF5 file (no HDF5 signature), so it cannot be a Keras .h5 model.`, {
    hint: 'a Keras 3 ".keras" file is a zip, a TF.js model is a folder with model.json, a SavedModel is a folder with saved_model.pb',
  });
}

/** The end-of-file address the superblock records (relative to the base address), when its version is known. */
function storedEndOfFile(head: Uint8Array): number | undefined {
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const version = head[8];
  // v0/v1: fixed fields, then base, free-space, EOF, driver addresses; v2/v3: base, extension, EOF, root.
  const offsetSize = version === 0 || version === 1 ? head[13] : version === 2 || version === 3 ? head[9] : undefined;
  const fieldsEnd = version === 0 ? 24 : version === 1 ? 28 : 12;
  if (offsetSize === undefined || (offsetSize !== 4 && offsetSize !== 8)) return undefined;
  const at = fieldsEnd + 2 * offsetSize;
  if (at + offsetSize > head.byteLength) return undefined;
  return offsetSize === 8 ? Number(view.getBigUint64(at, true)) : view.getUint32(at, true);
}

/** An attribute as a string (fixed-length `|S` bytes or variable-length), or undefined when absent. */
export function attrString(object: Group | Dataset, name: string): string | undefined {
  const attribute = object.attrs[name];
  if (attribute === undefined) return undefined;
  const list = toStrings(attribute);
  return list.length === 1 ? list[0] : undefined;
}

/**
 * A string-list attribute. Keras splits lists over 64 KB (HDF5's attribute header limit) into
 * `name0`, `name1`, ... chunks; those are concatenated in order. An empty list (Keras stores it as a
 * zero-length float array) and a missing attribute both give [].
 */
export function attrStringList(object: Group | Dataset, name: string): string[] {
  const attrs = object.attrs;
  if (attrs[name] !== undefined) return toStrings(attrs[name]!);
  const out: string[] = [];
  for (let i = 0; attrs[`${name}${i}`] !== undefined; i++) out.push(...toStrings(attrs[`${name}${i}`]!));
  return out;
}

function toStrings(attribute: Attribute): string[] {
  const value: unknown = attribute.value;
  const one = (v: unknown): string => (typeof v === 'string' ? v : v instanceof Uint8Array ? new TextDecoder().decode(v) : String(v));
  if (typeof value === 'string' || value instanceof Uint8Array) return [one(value)];
  if (Array.isArray(value)) return value.map(one);
  if (ArrayBuffer.isView(value) && (value as unknown as ArrayLike<unknown>).length === 0) return [];
  return [one(value)];
}

/** A dataset's values as float32 (float64 is narrowed); other dtypes are refused. */
export function datasetFloat32(dataset: Dataset, where: string): { shape: number[]; data: Float32Array } {
  const value: unknown = dataset.value;
  const shape = (dataset.shape ?? []).map(Number);
  if (value instanceof Float32Array) return { shape, data: value };
  if (value instanceof Float64Array) return { shape, data: Float32Array.from(value) };
  if (typeof value === 'number') return { shape, data: Float32Array.of(value) };
  throw new GraftError('UNSUPPORTED_MODEL', `Weight ${where} has HDF5 dtype "${String(dataset.dtype)}"; Graft reads float32 and float64 weights.`, {
    hint: 'save the model with float32 weights (a float16 or mixed-precision model must be cast first)',
  });
}
