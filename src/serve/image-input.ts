import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ServeError } from './serve-error.js';

export { sniffImageFormat, type ImageFormat } from '../data/sniff-image-format.js';

/** Content types accepted as a raw image body (the common aliases included). */
export const RAW_IMAGE_MEDIA_TYPES: readonly string[] = ['jpeg', 'jpg', 'pjpeg', 'png', 'x-png', 'gif', 'webp', 'tiff', 'avif', 'heic', 'heif', 'bmp', 'x-bmp', 'x-ms-bmp']
  .map((subtype) => `image/${subtype}`)
  .concat('application/octet-stream');

/** {@link RAW_IMAGE_MEDIA_TYPES}, with or without parameters (`image/jpeg; name=a.jpg`). */
export const RAW_IMAGE_TYPES = new RegExp(`^(${RAW_IMAGE_MEDIA_TYPES.map((type) => type.replace(/[/.+-]/g, '\\$&')).join('|')})\\s*(;.*)?$`, 'i');

/** Takes a raw image body (RAW_IMAGE_TYPES) as a Buffer of at most `maxUploadBytes`: the prediction API's third form. */
export function acceptRawImages(app: FastifyInstance, maxUploadBytes: number): void {
  app.addContentTypeParser(RAW_IMAGE_TYPES, { parseAs: 'buffer', bodyLimit: maxUploadBytes }, (_request, body, done) => done(null, body));
}

/** The JSON form's content type (Fastify parses it; its parameters, such as charset, may follow). */
export const JSON_TYPE = /^application\/json\b/i;

/** What to send instead, for a client whose body was refused for its form. */
export const ACCEPTED_FORMS_HINT =
  'POST a raw image body with its type (Content-Type: image/jpeg, image/png, image/webp, ... or application/octet-stream; with curl: -H "Content-Type: image/jpeg" --data-binary @photo.jpg), multipart/form-data with a file field "image" (curl -F image=@photo.jpg), or JSON { "image": "<base64>" }';

/** What to do about a body past a limit, told to an HTTP client (who cannot change the server's flags). */
export const SMALLER_HINT = "send a smaller image, or ask the server's operator for a larger upload limit";

/** The images of one predict request and how it asked for them. */
export interface ImageInputs {
  readonly images: Buffer[];
  /** True when the client sent a list (several multipart files or JSON `images`): the reply has `results`. */
  readonly isBatch: boolean;
  readonly topK: number | undefined;
}

export interface ReadImageOptions {
  /** Largest upload in bytes, all images of the request together. */
  readonly maxUploadBytes: number;
  /** Most images in one request. */
  readonly maxImages: number;
}

interface JsonBody {
  image?: string;
  images?: string[];
  /** A whole number, or a string of digits (parseTopK). */
  top_k?: number | string;
}

/**
 * Collects the images of a predict request from whichever form it came in: multipart (field `image`, one
 * or more files), a raw body with an image content type, or JSON `{ image }` / `{ images: [...] }` in
 * base64 (a `data:` URL prefix is accepted).
 *
 * @throws ServeError BAD_REQUEST when there is no image, PAYLOAD_TOO_LARGE past the limits.
 */
export async function readImageInputs(request: FastifyRequest, options: ReadImageOptions): Promise<ImageInputs> {
  if (request.isMultipart()) return readMultipart(request, options);
  const body = request.body;
  if (Buffer.isBuffer(body)) return { images: [body], isBatch: false, topK: undefined };
  if (typeof body === 'string') {
    throw new ServeError('UNSUPPORTED_MEDIA_TYPE', `Content-Type ${String(request.headers['content-type'])} is not an image.`, { hint: ACCEPTED_FORMS_HINT });
  }
  if (body && typeof body === 'object') {
    // Its shape was checked before the route's schema ran (checkJsonBody, in the route's preValidation).
    const json = body as JsonBody;
    const isBatch = Array.isArray(json.images);
    const encoded = isBatch ? json.images! : json.image !== undefined ? [json.image] : [];
    if (!encoded.length) throw new ServeError('BAD_REQUEST', 'The JSON body has no image: send { "image": "<base64>" } or { "images": ["<base64>", ...] }.');
    if (encoded.length > options.maxImages) throw tooManyImages(encoded.length, options.maxImages);
    const images = encoded.map((text, i) => decodeBase64(text, isBatch ? `images[${i}]` : 'image'));
    checkTotal(images, options.maxUploadBytes);
    return { images, isBatch, topK: parseTopK(json.top_k) };
  }
  throw new ServeError('BAD_REQUEST', 'No image in the request.', {
    hint: 'send multipart with a file field "image", a raw body with Content-Type image/jpeg (png, webp, gif, heic, bmp), or JSON { "image": "<base64>" }',
  });
}

/**
 * The JSON form's shape, checked before anything reads it (the route's schema would coerce `{"image": 123}` to the
 * string "123" and report it as a 2-byte file that is not an image).
 * @throws ServeError BAD_REQUEST naming the field and the type it got.
 */
export function checkJsonBody(body: unknown): JsonBody {
  const kind = (value: unknown): string => (value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value);
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ServeError('BAD_REQUEST', `The JSON body must be an object { "image": "<base64>" } or { "images": ["<base64>", ...] }, not ${kind(body)}.`);
  }
  const json = body as Record<string, unknown>;
  if (json['image'] !== undefined && typeof json['image'] !== 'string') {
    throw new ServeError('BAD_REQUEST', `"image" must be a base64 string (or a data: URL), not ${kind(json['image'])}.`);
  }
  if (json['image'] !== undefined && json['images'] !== undefined) {
    throw new ServeError('BAD_REQUEST', 'The JSON body has both "image" and "images": send one image as "image", or a batch as "images".');
  }
  if (json['images'] !== undefined) {
    if (!Array.isArray(json['images'])) throw new ServeError('BAD_REQUEST', `"images" must be an array of base64 strings, not ${kind(json['images'])}.`);
    if (json['images'].length === 0) throw new ServeError('BAD_REQUEST', '"images" is empty: send at least one base64 image.');
    const bad = json['images'].findIndex((item) => typeof item !== 'string');
    if (bad >= 0) throw new ServeError('BAD_REQUEST', `"images"[${bad}] must be a base64 string (or a data: URL), not ${kind(json['images'][bad])}.`);
  }
  parseTopK(json['top_k']);
  return json as JsonBody;
}

/** The most labels a reply lists: the bound the query's schema holds too (api-schemas.ts). */
export const MAX_TOP_K = 1000;

/**
 * A request's top_k, the same rule in every form (query, JSON, multipart field): a whole number, or a string of
 * digits, from 1 to MAX_TOP_K; undefined when not given.
 */
export function parseTopK(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= MAX_TOP_K) return n;
  const said = JSON.stringify(value) ?? String(value);
  throw new ServeError('BAD_REQUEST', `"top_k" must be a whole number from 1 to ${MAX_TOP_K}, not ${said.length > 40 ? `${said.slice(0, 40)}… (${said.length} characters)` : said}.`);
}

async function readMultipart(request: FastifyRequest, options: ReadImageOptions): Promise<ImageInputs> {
  const images: Buffer[] = [];
  let topK: number | undefined;
  let total = 0;
  for await (const part of request.parts()) {
    if (part.type === 'file') {
      if (part.fieldname !== 'image') {
        part.file.resume();
        throw new ServeError('BAD_REQUEST', `Unexpected file field "${part.fieldname}"; images go in the field "image".`);
      }
      if (images.length >= options.maxImages) {
        part.file.resume();
        throw tooManyImages(images.length + 1, options.maxImages);
      }
      const bytes = await part.toBuffer();
      total += bytes.length;
      if (total > options.maxUploadBytes) throw tooLarge(total, options.maxUploadBytes);
      images.push(bytes);
    } else if (part.fieldname === 'top_k') {
      topK = parseTopK(String(part.value));
    }
  }
  if (!images.length) throw new ServeError('BAD_REQUEST', 'The multipart body has no file in the field "image".');
  return { images, isBatch: images.length > 1, topK };
}

function decodeBase64(text: string, where: string): Buffer {
  // fastify's schema coercion turns a JSON null into "": either way there is no image here.
  if (typeof text !== 'string' || text === '') throw new ServeError('BAD_REQUEST', `${where} must be a non-empty base64 string.`);
  const payload = text.startsWith('data:') ? text.slice(text.indexOf(',') + 1) : text;
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(payload.replace(/\s/g, ''))) {
    throw new ServeError('BAD_REQUEST', `${where} is not base64 (received ${payload.length} characters starting "${payload.slice(0, 16)}").`);
  }
  return Buffer.from(payload, 'base64');
}

function checkTotal(images: Buffer[], maxBytes: number): void {
  const total = images.reduce((sum, b) => sum + b.length, 0);
  if (total > maxBytes) throw tooLarge(total, maxBytes);
}

/** The largest JSON body for an upload limit: base64 is 4/3 of the bytes, plus room for the rest of the object. */
export function jsonBodyLimit(maxUploadBytes: number): number {
  return Math.ceil((maxUploadBytes * 4) / 3) + 64 * 1024;
}

/** Past this much of a refused body, it is not read to its end: the connection is closed instead. */
const DRAIN_CAP_BYTES = 64 * 1024 * 1024;

/** A multipart body's own bytes besides its files: a boundary and headers per part (a file name up to 255 bytes). */
function multipartBodyLimit(maxUploadBytes: number, maxImages: number): number {
  return maxUploadBytes + (maxImages + 9) * 1024 + 64 * 1024;
}

/** The multipart form's content type. */
const MULTIPART_TYPE = /^multipart\/form-data\b/i;

/**
 * A raw, JSON or multipart body whose Content-Length is past its limit, refused before it is parsed. The framework
 * would refuse it unread and close the connection while the client still sends, so most clients see a broken pipe
 * instead of the 413 (and a multipart body was read to its end, a gigabyte at any pace, before its file was found too
 * large); the body is read and dropped first (up to a cap), so the answer can be read.
 * @throws ServeError PAYLOAD_TOO_LARGE after draining, when the body is too large.
 */
export async function refuseOversizeBody(
  headers: { readonly 'content-type'?: string; readonly 'content-length'?: string },
  payload: AsyncIterable<Buffer>,
  limits: ReadImageOptions,
  /** Called when the body is left unread past the drain cap: the connection must then close with the answer. */
  onLeftUnread?: () => void,
): Promise<void> {
  const type = headers['content-type'] ?? '';
  const { maxUploadBytes } = limits;
  const limit = RAW_IMAGE_TYPES.test(type)
    ? maxUploadBytes
    : JSON_TYPE.test(type)
      ? jsonBodyLimit(maxUploadBytes)
      : MULTIPART_TYPE.test(type)
        ? multipartBodyLimit(maxUploadBytes, limits.maxImages)
        : undefined;
  const length = Number(headers['content-length']);
  if (limit === undefined || !(length > limit)) return;
  let seen = 0;
  for await (const chunk of payload) {
    seen += chunk.length;
    if (seen > DRAIN_CAP_BYTES) {
      onLeftUnread?.();
      break;
    }
  }
  throw tooLarge(length, maxUploadBytes);
}

function tooLarge(bytes: number, maxBytes: number): ServeError {
  return new ServeError('PAYLOAD_TOO_LARGE', `The upload is larger than the limit of ${maxBytes} bytes. Received: at least ${bytes} bytes.`, {
    hint: SMALLER_HINT,
  });
}

function tooManyImages(count: number, max: number): ServeError {
  return new ServeError('PAYLOAD_TOO_LARGE', `At most ${max} images per request. Received: ${count}.`, { hint: 'split the batch' });
}
