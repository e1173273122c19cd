import { decodeImage, UnreadableImageError } from '../../data/decode-image.js';
import { makePreprocessing } from '../../core/preprocessing.js';
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyRequest } from 'fastify';
import sharp from 'sharp';
import { DEFAULT_LIMIT_INPUT_PIXELS } from '../../data/decode-image.js';
import { EXTENSION_BY_FORMAT, READABLE_FORMATS, sniffImageFormat, type ImageFormat } from '../../data/sniff-image-format.js';
import { bmpSize } from '../../data/bmp.js';
import { GraftError } from '../../core/errors.js';
import { ServeError } from '../serve-error.js';
import { checkClassName } from './class-name.js';
import { makeDirectory } from '../../core/make-directory.js';

/** One uploaded file: the name the client gave (shortened for display) and the name it is stored under. */
export interface UploadedFile {
  readonly name: string;
  /** `<first 32 hex digits of its sha256><extension of its format>`: the same content is stored once. */
  readonly stored: string;
  /** The class already held this exact image, so nothing new was stored. */
  readonly isDuplicate: boolean;
}

export interface UploadResult {
  readonly label: string;
  readonly files: readonly UploadedFile[];
}

export interface ReceiveUploadOptions {
  /** The project's folder; files go to `<projectDir>/<label>/`. */
  readonly projectDir: string;
  /** A folder on the same file system, outside every project, for files still arriving. */
  readonly stagingDir: string;
  /** Largest width x height accepted, read from the header. Defaults to 100 megapixels (as training's decoder). */
  readonly maxPixels?: number;
}

interface StagedFile {
  readonly name: string;
  readonly path: string;
  readonly stored: string;
}

/**
 * Receives a multipart upload (a `label` field, then image files) all or nothing: each file streams into a
 * private staging folder while it is hashed and its format read from its bytes; only when the whole request has
 * arrived and every file is an image are they moved (renamed, atomically) into the class folder. A file over
 * the size limit (413), one that is not an image (415), a bad label (400) or a malformed body (400) leaves no
 * file behind. Files are named by content, so two uploads named `photo.jpg` are both kept and the same image
 * sent twice is stored once.
 *
 * @throws ServeError as above; the project is unchanged when it throws.
 */
export async function receiveUpload(request: FastifyRequest, options: ReceiveUploadOptions): Promise<UploadResult> {
  if (!request.isMultipart()) throw new ServeError('UNSUPPORTED_MEDIA_TYPE', 'Send multipart/form-data: a `label` field, then image files.');
  const staging = join(options.stagingDir, randomUUID());
  await makeDirectory(staging);
  try {
    let label: string | undefined;
    const staged: StagedFile[] = [];
    for await (const part of request.parts()) {
      if (part.type === 'field') {
        if (part.fieldname !== 'label') continue;
        if (label !== undefined) throw new ServeError('BAD_REQUEST', 'Send one `label` field per upload.', { hint: 'upload each class in its own request' });
        label = checkClassName(String(part.value));
        continue;
      }
      const name = displayName(part.filename);
      if (label === undefined) {
        part.file.resume();
        throw new ServeError('BAD_REQUEST', 'The `label` field must come before the files.', { hint: "append 'label' to the FormData first" });
      }
      staged.push(await stageFile(part.file, name, join(staging, String(staged.length)), options.maxPixels ?? DEFAULT_LIMIT_INPUT_PIXELS));
    }
    if (label === undefined) throw new ServeError('BAD_REQUEST', 'No `label` field.', { hint: 'send label=<class> and the files of that class' });
    return { label, files: await commit(staged, join(options.projectDir, label)) };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Streams one part to `path`, hashing it and keeping its first bytes; then checks that it is a whole image. */
const CHECK_DECODE = makePreprocessing({ inputSize: 32, scale: '0..1', layout: 'nhwc' });

async function stageFile(stream: NodeJS.ReadableStream & { truncated?: boolean }, name: string, path: string, maxPixels: number): Promise<StagedFile> {
  const hash = createHash('sha256');
  let head = Buffer.alloc(0);
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      if (head.length < 64) head = Buffer.concat([head, chunk.subarray(0, 64 - head.length)]);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  await pipeline(stream, tap, createWriteStream(path, { flags: 'wx' }));
  // @fastify/multipart stops a file at the size limit and marks it truncated (or fails the stream, above).
  if (stream.truncated) throw new ServeError('PAYLOAD_TOO_LARGE', `${name} is larger than the upload limit; nothing of this upload was kept.`, { hint: 'send smaller images' });
  const format = bytes > 0 ? sniffImageFormat(head) : undefined;
  if (!format) {
    throw new ServeError('NOT_AN_IMAGE', `${name} is not a ${READABLE_FORMATS} image (${bytes === 0 ? 'it is empty' : 'judged by its bytes'}); nothing of this upload was kept.`, {
      hint: 'upload image files only',
    });
  }
  const { width = 0, height = 0 } = format === 'bmp' ? bmpSize(head) : await sharp(path, { limitInputPixels: false }).metadata().catch(() => ({ width: 0, height: 0 }));
  if (width * height === 0) throw new GraftError('UNREADABLE_IMAGE', `${name} is damaged: its header cannot be read; nothing of this upload was kept.`);
  if (width * height > maxPixels) {
    throw new ServeError('IMAGE_TOO_LARGE', `${name} is ${width} x ${height} pixels, over the limit of ${maxPixels}; nothing of this upload was kept.`, { hint: 'resize it first' });
  }
  // Decoded once, small, as training will: a truncated or corrupt file is refused now, not skipped at training.
  try {
    await decodeImage(path, CHECK_DECODE, { limitInputPixels: maxPixels });
  } catch (error) {
    if (!(error instanceof UnreadableImageError)) throw error;
    throw new GraftError('UNREADABLE_IMAGE', `${name} cannot be decoded (${error.reason}); nothing of this upload was kept.`);
  }
  return { name, path, stored: storedName(hash.digest('hex'), format) };
}

/** The name an upload stores a file under: the first 32 hex digits of its sha256, then its format's extension. */
export function storedName(sha256Hex: string, format: ImageFormat): string {
  return `${sha256Hex.slice(0, 32)}${EXTENSION_BY_FORMAT[format]}`;
}

/** Moves the staged files into the class folder; a file whose content is already there is a duplicate. */
async function commit(staged: readonly StagedFile[], classDir: string): Promise<UploadedFile[]> {
  await makeDirectory(classDir);
  const files: UploadedFile[] = [];
  for (const file of staged) {
    const target = join(classDir, file.stored);
    const isDuplicate = (await stat(target).catch(() => undefined)) !== undefined || files.some((f) => f.stored === file.stored);
    if (!isDuplicate) await rename(file.path, target);
    files.push({ name: file.name, stored: file.stored, isDuplicate });
  }
  return files;
}

/** The client's file name as shown back: its base name, without control characters, at most 100 characters. */
function displayName(filename: string | undefined): string {
  // eslint-disable-next-line no-control-regex
  const name = basename(filename ?? '').replace(/[\u0000-\u001f\u007f]/g, '');
  return name.length > 100 ? `${name.slice(0, 97)}...` : name || 'a file without a name';
}
