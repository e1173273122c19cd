import { setMaxListeners } from 'node:events';
import { decodeImageBytes } from '../data/decode-image.js';
import { topLabels, type LabelProbability } from '../model/graft-model.js';
import { READABLE_FORMATS, sniffImageFormat } from '../data/sniff-image-format.js';
import type { ConcurrencyLimiter } from './concurrency-limiter.js';
import type { ModelVersion } from './model-version.js';
import { ServeError } from './serve-error.js';

/** One image's answer, as the API returns it (snake_case keys are part of the JSON contract). */
export interface ImagePrediction {
  readonly predictions: LabelProbability[];
  readonly timing_ms: { readonly decode: number; readonly inference: number; readonly total: number };
}

export interface PredictImagesOptions {
  readonly topK: number;
  /** Largest width x height accepted, read from the header before decoding. */
  readonly maxPixels: number;
  /** Shared by all requests: how many images decode at once. */
  readonly decodeLimiter?: ConcurrencyLimiter;
  /** Aborted when nobody waits for the answer any more (deadline, client gone): images not yet decoded are not. */
  readonly signal?: AbortSignal;
}

/**
 * Decodes the images in parallel (sharp runs on libuv's pool) with the model's own preprocessing, then
 * hands each tensor to the model's batcher, which runs it together with other requests' images.
 *
 * @throws ServeError NOT_AN_IMAGE for bytes that are no raster format; UnreadableImageError from the
 *   decoder (corrupt, truncated, too many pixels). The message names the image's position in a batch.
 */
export async function predictImages(version: ModelVersion, images: readonly Buffer[], options: PredictImagesOptions): Promise<ImagePrediction[]> {
  const pre = version.manifest.preprocessing;
  // One failed image fails the request: the others' decodes, queued or not, are then work for nobody.
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  // Each image waiting for a decode slot listens on it: a batch of 64 is not the leak Node warns of past 10.
  setMaxListeners(images.length + 10, signal);
  return Promise.all(
    images.map(async (bytes, i) => {
      try {
        return await predictOne(bytes, i);
      } catch (error) {
        stop.abort(error);
        throw error;
      }
    }),
  );

  async function predictOne(bytes: Buffer, i: number): Promise<ImagePrediction> {
    const started = performance.now();
    const name = images.length > 1 ? `image ${i + 1} of ${images.length}` : 'the uploaded image';
    if (!sniffImageFormat(bytes)) {
      throw new ServeError('NOT_AN_IMAGE', `Cannot read ${name}: not an image (${bytes.length} bytes that are not ${READABLE_FORMATS}).`, {
        hint: 'send the image file itself, not a page or a path',
      });
    }
    const decode = (): Promise<Float32Array> => decodeImageBytes(bytes, pre, { limitInputPixels: options.maxPixels, name });
    const tensor = await (options.decodeLimiter ? options.decodeLimiter.run(decode, signal) : decode());
    signal.throwIfAborted();
    const decoded = performance.now();
    const { row, inferenceMs } = await version.batcher.submit(tensor);
    return {
      predictions: topLabels(row, version.labels, options.topK),
      timing_ms: { decode: round(decoded - started), inference: round(inferenceMs), total: round(performance.now() - started) },
    };
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
