const IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Element type of a stored vector: `f32` (exact), or `f16` (IEEE half floats, round to nearest even: half the size,
 * ~3 significant digits, for the large activation maps fine-tuning caches). Reads always return Float32Array.
 */
export type FeatureDtype = 'f32' | 'f16';
export const FEATURE_DTYPES: readonly FeatureDtype[] = ['f32', 'f16'];

/** Vectors are stored little-endian whatever the host, so a cache folder can move between machines. */
export function encodeF32(data: Float32Array): Buffer {
  if (IS_LITTLE_ENDIAN) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const out = Buffer.allocUnsafe(data.byteLength);
  for (let i = 0; i < data.length; i++) out.writeFloatLE(data[i]!, i * 4);
  return out;
}

/**
 * The values a read returns for `data` stored as `dtype`: `data` itself for 'f32', rounded through half precision
 * for 'f16' (unless a value is out of half range, then stored as f32, see {@link FeatureEntry.dtype}). A caller
 * that computed `data` can return this instead, so a first (computing) run and a later (cached) run agree exactly.
 */
export function storedValues(data: Float32Array, dtype: FeatureDtype = 'f32'): Float32Array {
  if (dtype === 'f32') return data;
  const half = encodeF16(data);
  return half ? decodeF16(half, data.length) : data;
}

/** Little-endian half floats of `data`, or undefined when a finite value is beyond half range (it would become Infinity). */
export function encodeF16(data: Float32Array): Buffer | undefined {
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  const out = Buffer.allocUnsafe(data.length * 2);
  for (let i = 0; i < data.length; i++) {
    const x = bits[i]!;
    const h = float32BitsToFloat16Bits(x);
    if ((h & 0x7fff) === 0x7c00 && (x & 0x7f800000) !== 0x7f800000) return undefined;
    out[2 * i] = h & 0xff;
    out[2 * i + 1] = h >>> 8;
  }
  return out;
}

export function decodeF16(bytes: Buffer, dim: number): Float32Array {
  const vector = new Float32Array(dim);
  const table = halfTable();
  for (let i = 0; i < dim; i++) vector[i] = table[bytes[2 * i]! | (bytes[2 * i + 1]! << 8)]!;
  return vector;
}

/**
 * IEEE 754 binary16 bits of the float32 with bits `x`: round to nearest, ties to even; overflow gives Infinity, tiny
 * values become half subnormals or signed zero, NaN stays NaN (quiet). Exported for tests.
 * @internal
 */
export function float32BitsToFloat16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 112; // rebias: float32's 127 to half's 15
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Half subnormal (or zero): the 24-bit significand with its implicit 1, shifted down to units of 2^-24.
    if (e < -10) return sign;
    const significand = mant | 0x800000;
    const shift = 14 - e;
    let h = significand >>> shift;
    const rest = significand & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && (h & 1) !== 0)) h++;
    return sign | h; // a carry into bit 10 is exactly the smallest normal
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) !== 0)) h++; // a carry may reach the exponent, up to Infinity: right
  return sign | h;
}

/** The number with half-float bits `h`. Exported for tests. @internal */
export function float16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant !== 0 ? Number.NaN : sign * Infinity;
  return sign * (0x400 + mant) * 2 ** (exp - 25);
}

/**
 * All 65536 half values as float32 (256 KiB, never changed): decoding is one lookup a value. Built on the first
 * decode (~10 ms on a cold process), not at import: most runs read f32 vectors and never need it.
 */
let halfValues: Float32Array | undefined;
function halfTable(): Float32Array {
  return (halfValues ??= Float32Array.from({ length: 0x10000 }, (_, h) => float16BitsToNumber(h)));
}

/**
 * A little-endian float32 blob's vector. A blob that fills an ArrayBuffer of its own (as SQLite's reads return them) is
 * viewed, not copied: a second copy of every cached vector cost a warm `graft train` ~90 ms on 1 720 images, most of it
 * first-touch page faults. Any other blob (a slice of Node's buffer pool, at any offset) is copied, which aligns it and
 * leaves the pool alone.
 */
export function decodeF32(bytes: Buffer, dim: number): Float32Array {
  const owned = bytes.byteOffset === 0 && bytes.buffer.byteLength === dim * 4 && bytes.length === dim * 4;
  if (IS_LITTLE_ENDIAN && owned) return new Float32Array(bytes.buffer, 0, dim);
  const vector = new Float32Array(dim);
  if (IS_LITTLE_ENDIAN) new Uint8Array(vector.buffer).set(bytes.subarray(0, dim * 4));
  else for (let i = 0; i < dim; i++) vector[i] = bytes.readFloatLE(i * 4);
  return vector;
}

/** Copies a stored little-endian vector into `target` at `offset` (in floats). */
export function decodeF32Into(blob: Buffer, target: Float32Array, offset: number): void {
  if (IS_LITTLE_ENDIAN) {
    new Uint8Array(target.buffer, target.byteOffset + offset * 4, blob.length).set(blob);
  } else {
    for (let i = 0; i < blob.length / 4; i++) target[offset + i] = blob.readFloatLE(i * 4);
  }
}
