import type { FastifyRequest } from 'fastify';
import { ServeError } from './serve-error.js';

export { sniffImageFormat, type ImageFormat } from '../data/sniff-image-format.js';

/** Content types accepted as a raw image body. */
export const RAW_IMAGE_TYPES = /^(image\/(jpeg|jpg|pjpeg|png|gif|webp|tiff|avif|heic|heif|bmp|x-bmp|x-ms-bmp)|application\/octet-stream)$/i;

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
  top_k?: number;
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
    throw new ServeError('UNSUPPORTED_MEDIA_TYPE', `Content-Type ${String(request.headers['content-type'])} is not an image.`, {
      hint: 'send image/jpeg, image/png, image/webp, image/gif, image/heic or image/bmp, multipart, or JSON with base64',
    });
  }
  if (body && typeof body === 'object') {
    const json = body as JsonBody;
    const isBatch = Array.isArray(json.images);
    const encoded = isBatch ? json.images! : json.image !== undefined ? [json.image] : [];
    if (!encoded.length) throw new ServeError('BAD_REQUEST', 'The JSON body has no image: send { "image": "<base64>" } or { "images": ["<base64>", ...] }.');
    if (encoded.length > options.maxImages) throw tooManyImages(encoded.length, options.maxImages);
    const images = encoded.map((text, i) => decodeBase64(text, isBatch ? `images[${i}]` : 'image'));
    checkTotal(images, options.maxUploadBytes);
    return { images, isBatch, topK: json.top_k };
  }
  throw new ServeError('BAD_REQUEST', 'No image in the request.', {
    hint: 'send multipart with a file field "image", a raw body with Content-Type image/jpeg (png, webp, gif, heic, bmp), or JSON { "image": "<base64>" }',
  });
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
      topK = Number(part.value);
      if (!Number.isInteger(topK) || topK < 1) throw new ServeError('BAD_REQUEST', `top_k must be a positive integer. Received: ${String(part.value)}`);
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

function tooLarge(bytes: number, maxBytes: number): ServeError {
  return new ServeError('PAYLOAD_TOO_LARGE', `The upload is larger than the limit of ${maxBytes} bytes. Received: at least ${bytes} bytes.`, {
    hint: 'send a smaller image, or start the server with a larger maxUploadBytes',
  });
}

function tooManyImages(count: number, max: number): ServeError {
  return new ServeError('PAYLOAD_TOO_LARGE', `At most ${max} images per request. Received: ${count}.`, { hint: 'split the batch' });
}
