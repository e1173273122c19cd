import { createHash } from 'node:crypto';
import type { Preprocessing } from '../core/preprocessing.js';
import { decodeImageBytes, readImageFile, UnreadableImageError, type DecodeOptions } from './decode-image.js';

/** A file that was read (and, unless the cache already has it, decoded). */
export interface ReadItem {
  /** Position in the input list. */
  readonly index: number;
  readonly file: string;
  /** The file's bytes, read once: hashed here and decoded from memory. */
  readonly bytes: Buffer;
  /** Hex sha256 of `bytes`: the content part of the feature-cache key. */
  readonly sha256: string;
  /** The decoded tensor; absent when `decode` said no (a cache hit). */
  readonly data?: Float32Array;
}

/** A decoded image from {@link decodeAll}. */
export interface DecodedItem {
  readonly index: number;
  readonly file: string;
  readonly data: Float32Array;
}

/** A file that could not be read or decoded, reported instead of thrown. */
export interface SkipEvent {
  readonly index: number;
  readonly file: string;
  readonly reason: string;
}

/** Options for {@link readAndDecode}. */
export interface ReadAndDecodeOptions extends DecodeOptions {
  /**
   * Files read and decoded at the same time. Defaults to 4: on 2 cores one in flight decodes ~134 img/s
   * and four ~285 (ARCHITECTURE.md), because file reads and libjpeg's serial parts overlap.
   */
  readonly concurrency?: number;
  /**
   * Whether to decode a file, given its content hash. Pass a cache lookup (`(sha) => !store.has(sha)`) so
   * a warm-cache run reads and hashes but never decodes. Defaults to true.
   */
  readonly decode?: boolean | ((sha256: string, file: string, index: number) => boolean);
  /** Called, in input order, for each file that cannot be read or decoded. The stream continues. */
  readonly onSkip?: (skip: SkipEvent) => void;
  /**
   * Decodes a file's bytes instead of `decodeImageBytes(bytes, pre)`, e.g. into several augmented views laid end to
   * end. Runs with the same concurrency; throwing an {@link UnreadableImageError} skips the file. Called only when
   * `decode` said yes, after it (so `decode` can leave notes for it).
   */
  readonly decodeBytes?: (bytes: Buffer, item: { readonly file: string; readonly index: number; readonly sha256: string }) => Promise<Float32Array>;
}

/**
 * Reads, hashes and decodes files with a few in flight, yielding them **in input order**.
 *
 * Up to `concurrency` files are being read or decoded at once, and at most `2 x concurrency` finished
 * results wait to be yielded (a small reorder window): one slow file holds back yielding but not
 * decoding, and memory stays bounded however long the list is (ARCHITECTURE.md decision 7). Work continues
 * while the consumer is busy (e.g. running the backbone), which is how decoding overlaps inference.
 *
 * Unreadable files (missing, empty, corrupt, not images) go to `onSkip` with a plain reason and are not
 * yielded; this never throws for a bad image. Each file is read once: the same buffer is hashed and decoded.
 *
 * @throws RangeError when concurrency is not a positive integer.
 * @example
 * for await (const { index, sha256, data } of readAndDecode(files, pre, { decode: (sha) => !cache.has(sha) })) { ... }
 */
export async function* readAndDecode(
  files: readonly string[],
  pre: Preprocessing,
  options: ReadAndDecodeOptions = {},
): AsyncGenerator<ReadItem, void, undefined> {
  const concurrency = options.concurrency ?? 4;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`concurrency must be a positive integer. Received: ${concurrency}`);
  }
  const windowSize = 2 * concurrency;
  const decodeOption = options.decode ?? true;
  const decodeOptions: DecodeOptions = { limitInputPixels: options.limitInputPixels, failOn: options.failOn };

  type Outcome = { kind: 'item'; item: ReadItem } | { kind: 'skip'; skip: SkipEvent } | { kind: 'error'; error: unknown };
  const pending = new Map<number, Promise<Outcome>>();
  let nextStart = 0;
  let nextYield = 0;
  let inFlight = 0;
  let isClosed = false;

  const work = async (index: number): Promise<Outcome> => {
    const file = files[index]!;
    try {
      const bytes = await readImageFile(file);
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      const shouldDecode = typeof decodeOption === 'function' ? decodeOption(sha256, file, index) : decodeOption;
      if (!shouldDecode) return { kind: 'item', item: { index, file, bytes, sha256 } };
      const data = options.decodeBytes
        ? await options.decodeBytes(bytes, { file, index, sha256 })
        : await decodeImageBytes(bytes, pre, { ...decodeOptions, name: file });
      return { kind: 'item', item: { index, file, bytes, sha256, data } };
    } catch (error) {
      if (error instanceof UnreadableImageError) return { kind: 'skip', skip: { index, file, reason: error.reason } };
      return { kind: 'error', error };
    }
  };

  const fill = (): void => {
    while (!isClosed && inFlight < concurrency && nextStart - nextYield < windowSize && nextStart < files.length) {
      const index = nextStart++;
      inFlight++;
      pending.set(
        index,
        work(index).then((outcome) => {
          inFlight--;
          fill();
          return outcome;
        }),
      );
    }
  };

  try {
    fill();
    while (nextYield < files.length) {
      const outcome = await pending.get(nextYield)!;
      pending.delete(nextYield);
      nextYield++;
      fill();
      if (outcome.kind === 'item') yield outcome.item;
      else if (outcome.kind === 'skip') options.onSkip?.(outcome.skip);
      else throw outcome.error;
    }
  } finally {
    // The consumer stopped early (break/throw) or we are done: start nothing more. Running tasks finish
    // on their own and their results are dropped; they never reject, so nothing goes unhandled.
    isClosed = true;
  }
}

/**
 * Decodes files with a few in flight, in input order; see {@link readAndDecode} for the scheduling and
 * memory bound. Unreadable files go to `onSkip`.
 */
export async function* decodeAll(
  files: readonly string[],
  pre: Preprocessing,
  options: Omit<ReadAndDecodeOptions, 'decode'> = {},
): AsyncGenerator<DecodedItem, void, undefined> {
  for await (const { index, file, data } of readAndDecode(files, pre, { ...options, decode: true })) {
    yield { index, file, data: data! };
  }
}
