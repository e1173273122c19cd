import { createHash } from 'node:crypto';

/** Everything that determines a feature vector. Change any part and the cached vector no longer applies. */
export interface FeatureKeyParts {
  /** sha256 (hex) of the image file's bytes: a re-saved or edited image gets a new key. */
  readonly imageSha256: string;
  /** sha256 (hex) of the backbone's weights: another model, or the same model re-exported, gets a new key. */
  readonly modelSha256: string;
  /** `preprocessingHash(pre)` from engine/preprocessing: input size, resize, scaling and layout. */
  readonly preprocessingHash: string;
  /** Which view of the image: 0 is the plain image, 1..K are augmented views. Defaults to 0. */
  readonly view?: number;
  /**
   * Anything else the vector depends on, e.g. `${augmentHash(config)}-${seed}` for augmented views (view 3 under one
   * augmentation config and seed is another image than view 3 under another). Only a key with a variant includes
   * it, so every key made without one is unchanged. A non-empty string without control characters, at most 256 long.
   */
  readonly variant?: string;
}

/** Bumped if the key derivation below ever changes, so old and new keys can never collide. */
const KEY_SCHEME = 'graft-feature-key-v1';
const SHA256_HEX = /^[0-9a-f]{64}$/i;
const SHORT_HEX = /^[0-9a-f]{8,64}$/i;
const VARIANT = /^[^\u0000-\u001f\u007f]{1,256}$/;

/**
 * Makes the feature-cache key for one view of one image under one backbone and preprocessing.
 *
 * This is the only place a key is made (ARCHITECTURE.md decision 3): every part that can change the vector is in it,
 * so a changed image, model or preprocessing is a cache miss, never a stale hit. Hex digests are compared
 * case-insensitively. The key is the sha256 (hex, 64 chars) of a canonical encoding of the parts, so keys have
 * a fixed size in the store whatever the parts look like.
 *
 * @param parts - see {@link FeatureKeyParts}; `view` defaults to 0; `variant` is optional.
 * @returns a 64-character lowercase hex string.
 * @throws TypeError when a digest is not hex of the expected length or `variant` is not a valid string; RangeError
 *   when `view` is not an integer >= 0.
 * @example
 * ```ts
 * const key = featureKey({ imageSha256: sha256OfFile, modelSha256: backbone.sha256, preprocessingHash: preprocessingHash(pre) });
 * key.length; // 64
 * featureKey({ ...parts, view: 1 }) !== featureKey({ ...parts, view: 0 }); // true
 * ```
 */
export function featureKey(parts: FeatureKeyParts): string {
  const { imageSha256, modelSha256, preprocessingHash } = parts;
  const view = parts.view ?? 0;
  checkHex('imageSha256', imageSha256, SHA256_HEX, 'a 64-character sha256 hex digest');
  checkHex('modelSha256', modelSha256, SHA256_HEX, 'a 64-character sha256 hex digest');
  checkHex('preprocessingHash', preprocessingHash, SHORT_HEX, 'a hex digest from preprocessingHash()');
  if (!Number.isSafeInteger(view) || view < 0) {
    throw new RangeError(`featureKey: 'view' must be an integer >= 0 (0 = the plain image). Received: ${String(view)}`);
  }
  const { variant } = parts;
  if (variant !== undefined && (typeof variant !== 'string' || !VARIANT.test(variant))) {
    throw new TypeError(`featureKey: 'variant' must be a non-empty string of at most 256 printable characters. Received: ${JSON.stringify(variant)}`);
  }
  // Fixed-width hex fields and an integer, separated by a character none of them contains, then the variant (if any)
  // as the last field: the encoding is injective, and a key without a variant is what it was before variants existed.
  const fields: (string | number)[] = [KEY_SCHEME, imageSha256.toLowerCase(), modelSha256.toLowerCase(), preprocessingHash.toLowerCase(), view];
  if (variant !== undefined) fields.push(variant);
  const canonical = fields.join('|');
  return createHash('sha256').update(canonical).digest('hex');
}

function checkHex(name: string, value: unknown, pattern: RegExp, expected: string): void {
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new TypeError(`featureKey: '${name}' must be ${expected}. Received: ${JSON.stringify(value)}`);
  }
}
