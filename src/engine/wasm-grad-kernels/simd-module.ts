import type * as tf from '@tensorflow/tfjs';

/**
 * A few elementwise and reduction loops that tfjs-backend-wasm lacks, as one small hand-assembled WebAssembly
 * SIMD module that imports tfjs-wasm's own memory: its functions read and write tensors in place on the wasm
 * heap (pointers = the backend's memoryOffsets), so a gradient that tfjs composes from 4-5 full-size kernels
 * (ClipByValue's: GreaterEqual, LessEqual, LogicalAnd, ZerosLike, Select) becomes one pass.
 *
 * No toolchain builds it: the bytes below are the WebAssembly binary format written out by hand (the
 * opcodes are the spec's, https://webassembly.github.io/spec/core/binary/instructions.html). The module is
 * validated on instantiation; test/wasm-grad-kernels.test.ts checks every function against the cpu backend.
 *
 * Exported functions (pointers are byte offsets into the tfjs heap, counts are elements):
 * - rangeGrad(x, dy, out, n, lo, hi, strictLo): out[i] = (x[i] > lo or, unless strictLo, x[i] == lo) and
 *   x[i] <= hi ? dy[i] : 0. The gradient of ClipByValue (lo <= x <= hi), Relu6 (0 < x <= 6) and Relu (0 < x).
 * - columnSum(x, out, rows, cols): out[c] = sum over r of x[r * cols + c] (cols a multiple of 4): a Sum over
 *   the leading axes, which wasm's Sum does as a Transpose followed by a row sum.
 * - depthwiseFilterGrad(x, dy, out, N, H, W, C, Ho, Wo, kh, kw, sh, sw, padTop, padLeft): the filter gradient
 *   of a depthwise conv with multiplier 1 and dilation 1, out[i, j, c] = sum over (n, ho, wo) of
 *   x[n, ho*sh + i - padTop, wo*sw + j - padLeft, c] * dy[n, ho, wo, c] (taps outside x skipped), C a multiple of 4.
 * - depthwiseInputGather(filter, dy, out, ...the same geometry): its input gradient, gathered per input
 *   pixel from the taps that read it; used for strides > 1, where tfjs's route (a conv over a zero-upsampled
 *   dy) does s^2 times the work.
 * - transposedProduct(a, b, out, R, M, N): out = a^T b for a [R, M], b [R, N] (N a multiple of 4), with out
 *   [M, N] kept in cache while a and b stream by once: the weight gradient of a 1x1 conv with few channels
 *   at high resolution, where XNNPACK needs a transposed copy and a repacked [R, N] operand.
 */
export interface SimdKernels {
  rangeGrad(x: number, dy: number, out: number, n: number, lo: number, hi: number, strictLo: number): void;
  columnSum(x: number, out: number, rows: number, cols: number): void;
  depthwiseFilterGrad(
    x: number, dy: number, out: number, batch: number, inHeight: number, inWidth: number, channels: number,
    outHeight: number, outWidth: number, filterHeight: number, filterWidth: number,
    strideHeight: number, strideWidth: number, padTop: number, padLeft: number,
  ): void;
  depthwiseInputGather(
    filter: number, dy: number, out: number, batch: number, inHeight: number, inWidth: number, channels: number,
    outHeight: number, outWidth: number, filterHeight: number, filterWidth: number,
    strideHeight: number, strideWidth: number, padTop: number, padLeft: number,
  ): void;
  transposedProduct(a: number, b: number, out: number, rows: number, m: number, n: number): void;
}

// --- binary encoding -------------------------------------------------------------------------------------

function uleb(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

function sleb(value: number): number[] {
  const out: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const name = (s: string): number[] => vec([...s].map((c) => [c.charCodeAt(0)]));
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;

// Instructions used below.
const get = (i: number) => [0x20, ...uleb(i)];
const set = (i: number) => [0x21, ...uleb(i)];
const tee = (i: number) => [0x22, ...uleb(i)];
const i32c = (v: number) => [0x41, ...sleb(v)];
const block = [0x02, 0x40];
const loop = [0x03, 0x40];
const end = [0x0b];
const br = (depth: number) => [0x0c, ...uleb(depth)];
const brIf = (depth: number) => [0x0d, ...uleb(depth)];
const select = [0x1b];
const f32Load = [0x2a, 0x02, 0x00];
const f32Store = [0x38, 0x02, 0x00];
const i32LtU = [0x49];
const i32GeU = [0x4f];
const i32Add = [0x6a];
const i32Sub = [0x6b];
const i32Mul = [0x6c];
const i32DivS = [0x6d];
const i32RemU = [0x70];
const i32And = [0x71];
const i32Shl = [0x74];
const f32Gt = [0x5e];
const f32Ge = [0x60];
const f32Le = [0x5f];
const simd = (op: number, ...immediates: number[]) => [0xfd, ...uleb(op), ...immediates];
const v128Load = simd(0x00, 0x04, 0x00);
const v128Store = simd(0x0b, 0x04, 0x00);
const v128Zero = simd(0x0c, ...new Array<number>(16).fill(0));
const i32x4Splat = simd(0x11);
const f32x4Splat = simd(0x13);
const f32x4Gt = simd(0x44);
const f32x4Le = simd(0x45);
const f32x4Ge = simd(0x46);
const v128And = simd(0x4e);
const v128Bitselect = simd(0x52);
const f32x4Add = simd(0xe4);
const f32x4Mul = simd(0xe6);
const v128Load32Splat = simd(0x09, 0x02, 0x00);
const f32Zero = [0x43, 0, 0, 0, 0];

/** `while (i < limit) { body; i += stepBytes }` with i and limit locals (stepBytes 0: the body advances i). */
function forLoop(i: number, limit: number, stepBytes: number, body: number[]): number[] {
  return [
    ...block, ...loop,
    ...get(i), ...get(limit), ...i32GeU, ...brIf(1),
    ...body,
    ...(stepBytes === 0 ? [] : [...get(i), ...i32c(stepBytes), ...i32Add, ...set(i)]),
    ...br(0),
    ...end, ...end,
  ];
}

/** `if (cond) body` (cond leaves an i32 on the stack). */
const ifThen = (cond: number[], body: number[]): number[] => [...cond, 0x04, 0x40, ...body, ...end];
/** local[target] = local[a] + local[b] (i32). */
const addTo = (target: number, a: number, b: number): number[] => [...get(a), ...get(b), ...i32Add, ...set(target)];
/** v128 at local[base] + local[offset]. */
const loadAt = (base: number, offset: number): number[] => [...get(base), ...get(offset), ...i32Add, ...v128Load];

interface FunctionDef {
  readonly name: string;
  readonly params: number[];
  readonly locals: number[];
  readonly body: number[];
}

// rangeGrad(x, dy, out, n, lo, hi, strictLo); locals: i, endVec, endAll, vlo, vhi, vstrict, vx, sx
const rangeGrad: FunctionDef = (() => {
  const [x, dy, out, n, lo, hi, strict] = [0, 1, 2, 3, 4, 5, 6];
  const [i, endVec, endAll, vlo, vhi, vstrict, vx, sx] = [7, 8, 9, 10, 11, 12, 13, 14];
  const at = (base: number) => [...get(base), ...get(i), ...i32Add];
  return {
    name: 'rangeGrad',
    params: [I32, I32, I32, I32, F32, F32, I32],
    locals: [I32, I32, I32, V128, V128, V128, V128, F32],
    body: [
      ...get(lo), ...f32x4Splat, ...set(vlo),
      ...get(hi), ...f32x4Splat, ...set(vhi),
      ...i32c(0), ...get(strict), ...i32Sub, ...i32x4Splat, ...set(vstrict),
      ...get(n), ...i32c(-4), ...i32And, ...i32c(2), ...i32Shl, ...set(endVec),
      ...get(n), ...i32c(2), ...i32Shl, ...set(endAll),
      ...i32c(0), ...set(i),
      ...forLoop(i, endVec, 16, [
        ...at(out),
        ...at(dy), ...v128Load,
        ...at(x), ...v128Load, ...tee(vx), ...get(vlo), ...f32x4Gt,
        ...get(vx), ...get(vlo), ...f32x4Ge,
        ...get(vstrict), ...v128Bitselect,
        ...get(vx), ...get(vhi), ...f32x4Le,
        ...v128And, ...v128And,
        ...v128Store,
      ]),
      ...forLoop(i, endAll, 4, [
        ...at(out),
        ...at(dy), ...f32Load,
        ...f32Zero,
        ...at(x), ...f32Load, ...tee(sx), ...get(lo), ...f32Gt,
        ...get(sx), ...get(lo), ...f32Ge,
        ...get(strict), ...select,
        ...get(sx), ...get(hi), ...f32Le,
        ...i32And,
        ...select,
        ...f32Store,
      ]),
    ],
  };
})();

// columnSum(x, out, rows, cols); locals: r, c, rowBytes, endRows, rowPtr
const columnSum: FunctionDef = (() => {
  const [x, out, rows, cols] = [0, 1, 2, 3];
  const [r, c, rowBytes, endRows, rowPtr] = [4, 5, 6, 7, 8];
  return {
    name: 'columnSum',
    params: [I32, I32, I32, I32],
    locals: [I32, I32, I32, I32, I32],
    body: [
      ...get(cols), ...i32c(2), ...i32Shl, ...set(rowBytes),
      ...get(rows), ...get(rowBytes), ...i32Mul, ...set(endRows),
      ...i32c(0), ...set(c),
      ...forLoop(c, rowBytes, 16, [...get(out), ...get(c), ...i32Add, ...v128Zero, ...v128Store]),
      ...i32c(0), ...set(r),
      ...forLoop(r, endRows, 0, [
        ...get(x), ...get(r), ...i32Add, ...set(rowPtr),
        ...i32c(0), ...set(c),
        ...forLoop(c, rowBytes, 16, [
          ...get(out), ...get(c), ...i32Add,
          ...get(out), ...get(c), ...i32Add, ...v128Load,
          ...get(rowPtr), ...get(c), ...i32Add, ...v128Load,
          ...f32x4Add,
          ...v128Store,
        ]),
        ...get(r), ...get(rowBytes), ...i32Add, ...set(r),
      ]),
    ],
  };
})();

/**
 * The filter gradient of a depthwise conv (multiplier 1, dilation 1): for every dy pixel (n, ho, wo) and every
 * tap (i, j) whose input pixel (hi, wi) = (ho*sh + i - padTop, wo*sw + j - padLeft) lies inside x,
 * out[i, j, :] += x[n, hi, wi, :] * dy[n, ho, wo, :]; `out` ([kh, kw, C], a few KiB) is zeroed first and stays
 * in cache while x and dy stream by once.
 * Params: (x, dy, out, N, H, W, C, Ho, Wo, kh, kw, sh, sw, padTop, padLeft).
 */
const depthwiseFilterGrad: FunctionDef = (() => {
  const [x, dy, out, N, H, W, C, Ho, Wo, kh, kw, sh, sw, padTop, padLeft] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
  const [n, ho, wo, i, j, hi, wi, cb, dyPix, pixel, tap, cBytes, total] = [15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27];
  return {
    name: 'depthwiseFilterGrad',
    params: new Array<number>(15).fill(I32),
    locals: new Array<number>(13).fill(I32),
    body: [
      ...get(C), ...i32c(2), ...i32Shl, ...set(cBytes),
      ...get(kh), ...get(kw), ...i32Mul, ...get(cBytes), ...i32Mul, ...set(total),
      ...i32c(0), ...set(cb),
      ...forLoop(cb, total, 16, [...get(out), ...get(cb), ...i32Add, ...v128Zero, ...v128Store]),
      ...get(dy), ...set(dyPix),
      ...i32c(0), ...set(n),
      ...forLoop(n, N, 1, [
        ...i32c(0), ...set(ho),
        ...forLoop(ho, Ho, 1, [
          ...i32c(0), ...set(wo),
          ...forLoop(wo, Wo, 1, [
            ...i32c(0), ...set(i),
            ...forLoop(i, kh, 1, [
              ...get(ho), ...get(sh), ...i32Mul, ...get(i), ...i32Add, ...get(padTop), ...i32Sub, ...set(hi),
              ...ifThen([...get(hi), ...get(H), ...i32LtU], [
                ...i32c(0), ...set(j),
                ...forLoop(j, kw, 1, [
                  ...get(wo), ...get(sw), ...i32Mul, ...get(j), ...i32Add, ...get(padLeft), ...i32Sub, ...set(wi),
                  ...ifThen([...get(wi), ...get(W), ...i32LtU], [
                    ...get(x),
                    ...get(n), ...get(H), ...i32Mul, ...get(hi), ...i32Add, ...get(W), ...i32Mul, ...get(wi), ...i32Add,
                    ...get(cBytes), ...i32Mul, ...i32Add, ...set(pixel),
                    ...get(out),
                    ...get(i), ...get(kw), ...i32Mul, ...get(j), ...i32Add, ...get(cBytes), ...i32Mul, ...i32Add, ...set(tap),
                    ...i32c(0), ...set(cb),
                    ...forLoop(cb, cBytes, 16, [
                      ...get(tap), ...get(cb), ...i32Add,
                      ...loadAt(tap, cb),
                      ...loadAt(pixel, cb), ...loadAt(dyPix, cb), ...f32x4Mul,
                      ...f32x4Add,
                      ...v128Store,
                    ]),
                  ]),
                ]),
              ]),
            ]),
            ...get(dyPix), ...get(cBytes), ...i32Add, ...set(dyPix),
          ]),
        ]),
      ]),
    ],
  };
})();

/**
 * The input gradient of a depthwise conv gathered per input pixel: dx[n, hi, wi, :] = sum over the taps (i, j)
 * with (hi + padTop - i) = ho*sh and (wi + padLeft - j) = wo*sw for some dy pixel (ho, wo) inside dy of
 * filter[i, j, :] * dy[n, ho, wo, :]. With stride s only ~1/s^2 of the taps reach a pixel, and the taps are
 * enumerated directly (i from (hi + padTop) mod sh, step sh), so a stride costs nothing extra.
 * Params: (filter, dy, out, N, H, W, C, Ho, Wo, kh, kw, sh, sw, padTop, padLeft).
 */
const depthwiseInputGather: FunctionDef = (() => {
  const [filter, dy, out, N, H, W, C, Ho, Wo, kh, kw, sh, sw, padTop, padLeft] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
  const [n, hi, wi, i, j, ho, wo, cb, dxPix, dyPix, tap, cBytes, dyRow] = [15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27];
  return {
    name: 'depthwiseInputGather',
    params: new Array<number>(15).fill(I32),
    locals: new Array<number>(13).fill(I32),
    body: [
      ...get(C), ...i32c(2), ...i32Shl, ...set(cBytes),
      ...get(out), ...set(dxPix),
      ...i32c(0), ...set(n),
      ...forLoop(n, N, 1, [
        ...i32c(0), ...set(hi),
        ...forLoop(hi, H, 1, [
          ...i32c(0), ...set(wi),
          ...forLoop(wi, W, 1, [
            ...i32c(0), ...set(cb),
            ...forLoop(cb, cBytes, 16, [...get(dxPix), ...get(cb), ...i32Add, ...v128Zero, ...v128Store]),
            ...get(hi), ...get(padTop), ...i32Add, ...get(sh), ...i32RemU, ...set(i),
            ...forLoop(i, kh, 0, [
              ...get(hi), ...get(padTop), ...i32Add, ...get(i), ...i32Sub, ...get(sh), ...i32DivS, ...set(ho),
              ...ifThen([...get(ho), ...get(Ho), ...i32LtU], [
                ...get(dy), ...get(n), ...get(Ho), ...i32Mul, ...get(ho), ...i32Add, ...get(Wo), ...i32Mul, ...get(cBytes), ...i32Mul, ...i32Add, ...set(dyRow),
                ...get(wi), ...get(padLeft), ...i32Add, ...get(sw), ...i32RemU, ...set(j),
                ...forLoop(j, kw, 0, [
                  ...get(wi), ...get(padLeft), ...i32Add, ...get(j), ...i32Sub, ...get(sw), ...i32DivS, ...set(wo),
                  ...ifThen([...get(wo), ...get(Wo), ...i32LtU], [
                    ...get(dyRow), ...get(wo), ...get(cBytes), ...i32Mul, ...i32Add, ...set(dyPix),
                    ...get(filter), ...get(i), ...get(kw), ...i32Mul, ...get(j), ...i32Add, ...get(cBytes), ...i32Mul, ...i32Add, ...set(tap),
                    ...i32c(0), ...set(cb),
                    ...forLoop(cb, cBytes, 16, [
                      ...get(dxPix), ...get(cb), ...i32Add,
                      ...loadAt(dxPix, cb),
                      ...loadAt(tap, cb), ...loadAt(dyPix, cb), ...f32x4Mul,
                      ...f32x4Add,
                      ...v128Store,
                    ]),
                  ]),
                  ...get(j), ...get(sw), ...i32Add, ...set(j),
                ]),
              ]),
              ...get(i), ...get(sh), ...i32Add, ...set(i),
            ]),
            ...get(dxPix), ...get(cBytes), ...i32Add, ...set(dxPix),
          ]),
        ]),
      ]),
    ],
  };
})();


// transposedProduct(a, b, out, rows, m, n): out[m, n] = sum over r of a[r, m] * b[r, n]
const transposedProduct: FunctionDef = (() => {
  const [a, b, out, R, M, N] = [0, 1, 2, 3, 4, 5];
  const [r, m, nb, nBytes, mBytes, aRow, bRow, oRow, r4, p, q, total, m2, m3, n2, n3] = [6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21];
  const [a0, a1, a2, a3] = [22, 23, 24, 25];
  const splatAt = (offset: number | undefined): number[] =>
    offset === undefined ? [...get(aRow), ...get(m), ...i32Add, ...v128Load32Splat] : [...get(aRow), ...get(m), ...i32Add, ...get(offset), ...i32Add, ...v128Load32Splat];
  const madd = (bOffset: number | undefined, av: number): number[] =>
    [...(bOffset === undefined ? [...get(q)] : [...get(q), ...get(bOffset), ...i32Add]), ...v128Load, ...get(av), ...f32x4Mul, ...f32x4Add];
  return {
    name: 'transposedProduct',
    params: [I32, I32, I32, I32, I32, I32],
    locals: [...new Array<number>(16).fill(I32), V128, V128, V128, V128],
    body: [
      ...get(N), ...i32c(2), ...i32Shl, ...set(nBytes),
      ...get(M), ...i32c(2), ...i32Shl, ...set(mBytes),
      ...get(mBytes), ...i32c(1), ...i32Shl, ...set(m2),
      ...get(m2), ...get(mBytes), ...i32Add, ...set(m3),
      ...get(nBytes), ...i32c(1), ...i32Shl, ...set(n2),
      ...get(n2), ...get(nBytes), ...i32Add, ...set(n3),
      ...get(M), ...get(nBytes), ...i32Mul, ...set(total),
      ...i32c(0), ...set(nb),
      ...forLoop(nb, total, 16, [...get(out), ...get(nb), ...i32Add, ...v128Zero, ...v128Store]),
      ...get(R), ...i32c(-4), ...i32And, ...set(r4),
      ...get(a), ...set(aRow),
      ...get(b), ...set(bRow),
      ...i32c(0), ...set(r),
      ...forLoop(r, r4, 4, [
        ...get(out), ...set(oRow),
        ...i32c(0), ...set(m),
        ...forLoop(m, mBytes, 4, [
          ...splatAt(undefined), ...set(a0),
          ...splatAt(mBytes), ...set(a1),
          ...splatAt(m2), ...set(a2),
          ...splatAt(m3), ...set(a3),
          ...i32c(0), ...set(nb),
          ...forLoop(nb, nBytes, 16, [
            ...addTo(p, oRow, nb),
            ...addTo(q, bRow, nb),
            ...get(p),
            ...get(p), ...v128Load,
            ...madd(undefined, a0),
            ...madd(nBytes, a1),
            ...madd(n2, a2),
            ...madd(n3, a3),
            ...v128Store,
          ]),
          ...get(oRow), ...get(nBytes), ...i32Add, ...set(oRow),
        ]),
        ...get(aRow), ...get(mBytes), ...i32c(2), ...i32Shl, ...i32Add, ...set(aRow),
        ...get(bRow), ...get(nBytes), ...i32c(2), ...i32Shl, ...i32Add, ...set(bRow),
      ]),
      ...forLoop(r, R, 1, [
        ...get(out), ...set(oRow),
        ...i32c(0), ...set(m),
        ...forLoop(m, mBytes, 4, [
          ...splatAt(undefined), ...set(a0),
          ...i32c(0), ...set(nb),
          ...forLoop(nb, nBytes, 16, [
            ...addTo(p, oRow, nb),
            ...addTo(q, bRow, nb),
            ...get(p),
            ...get(p), ...v128Load,
            ...madd(undefined, a0),
            ...v128Store,
          ]),
          ...get(oRow), ...get(nBytes), ...i32Add, ...set(oRow),
        ]),
        ...get(aRow), ...get(mBytes), ...i32Add, ...set(aRow),
        ...get(bRow), ...get(nBytes), ...i32Add, ...set(bRow),
      ]),
    ],
  };
})();

const FUNCTIONS: readonly FunctionDef[] = [rangeGrad, columnSum, depthwiseFilterGrad, depthwiseInputGather, transposedProduct];

/** The module's bytes: imports env.memory, exports FUNCTIONS. */
export function simdModuleBytes(): Uint8Array {
  const types = section(1, vec(FUNCTIONS.map((f) => [0x60, ...vec(f.params.map((p) => [p])), 0x00])));
  const imports = section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, 0x00]]));
  const functions = section(3, vec(FUNCTIONS.map((_f, index) => uleb(index))));
  const exports = section(7, vec(FUNCTIONS.map((f, index) => [...name(f.name), 0x00, ...uleb(index)])));
  const code = section(10, vec(FUNCTIONS.map((f) => {
    const locals = vec(f.locals.map((type) => [0x01, type]));
    const body = [...locals, ...f.body, ...end];
    return [...uleb(body.length), ...body];
  })));
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...types, ...imports, ...functions, ...exports, ...code]);
}

/** The WebAssembly JS API (this project compiles without the DOM lib, whose types declare it). */
interface WebAssemblyApi {
  Memory: abstract new (...args: never[]) => object;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { exports: unknown };
}
const webAssembly = (globalThis as unknown as { WebAssembly?: WebAssemblyApi }).WebAssembly;

interface WasmBackendInternals {
  wasm?: { asm?: { memory?: unknown } };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
}

const instances = new WeakMap<object, SimdKernels | null>();
let isEnabled = true;

/**
 * Switches Graft's SIMD loops off (every kernel then takes its XNNPACK composition, as without WebAssembly
 * SIMD access) or back on: for benchmarks comparing both in one process. On by default.
 */
export function setWasmSimdLoops(on: boolean): void {
  isEnabled = on;
}

/**
 * The SIMD functions bound to `backend`'s memory, or undefined when they cannot run there (no
 * WebAssembly SIMD, or a tfjs-wasm build that does not expose its memory): callers then use tfjs's kernels.
 */
export function simdKernels(backend: tf.KernelBackend): SimdKernels | undefined {
  if (!isEnabled) return undefined;
  const known = instances.get(backend);
  if (known !== undefined) return known ?? undefined;
  let kernels: SimdKernels | null = null;
  try {
    const memory = (backend as unknown as WasmBackendInternals).wasm?.asm?.memory;
    if (webAssembly !== undefined && memory instanceof webAssembly.Memory) {
      const instance = new webAssembly.Instance(new webAssembly.Module(simdModuleBytes()), { env: { memory } });
      kernels = instance.exports as unknown as SimdKernels;
    }
  } catch {
    kernels = null;
  }
  instances.set(backend, kernels);
  return kernels ?? undefined;
}

/** The heap byte offset of a tensor's data on the wasm backend. */
export function heapOffset(backend: tf.KernelBackend, info: tf.TensorInfo): number {
  const data = (backend as unknown as WasmBackendInternals).dataIdMap.get(info.dataId);
  if (data === undefined) throw new Error('wasm gradient kernels: a tensor has no data on the wasm backend');
  return data.memoryOffset;
}
