import type * as tf from '@tensorflow/tfjs';
import { SIMD_KERNELS_WASM } from './simd-kernels-wasm.generated.js';

/**
 * A few elementwise and reduction loops that tfjs-backend-wasm lacks, as one small WebAssembly SIMD module that
 * imports tfjs-wasm's own memory: its functions read and write tensors in place on the wasm heap (pointers =
 * the backend's memoryOffsets), so a gradient that tfjs composes from 4-5 full-size kernels (ClipByValue's:
 * GreaterEqual, LessEqual, LogicalAnd, ZerosLike, Select) becomes one pass.
 *
 * The source is simd-kernels.wat (WebAssembly text, with named locals and comments); wabt's wat2wasm assembles
 * it at build time (scripts/generate.mjs) into simd-kernels-wasm.generated.ts. The module is validated when
 * assembled and on instantiation; test/engine/wasm-grad-kernels.slow.test.ts checks every function against the cpu backend.
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

/** The module's bytes (simd-kernels.wat assembled): imports env.memory, exports {@link SimdKernels}. */
export function simdModuleBytes(): Uint8Array {
  return Uint8Array.from(SIMD_KERNELS_WASM);
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

/**
 * The SIMD functions bound to `backend`'s memory (a fresh instance: callers keep it, see WasmGradKernels.simd).
 * @throws Error saying why they cannot run there: no WebAssembly, a tfjs-wasm build that does not expose its
 *   memory (or another backend), or an engine without WebAssembly SIMD (the module fails to compile).
 */
export function instantiateSimdKernels(backend: tf.KernelBackend): SimdKernels {
  if (webAssembly === undefined) throw new Error('this JavaScript engine has no WebAssembly');
  const memory = (backend as unknown as WasmBackendInternals).wasm?.asm?.memory;
  if (!(memory instanceof webAssembly.Memory)) {
    throw new Error(`the tfjs backend does not expose a WebAssembly memory (backend: ${backend.constructor.name}; Graft's loops need tfjs-backend-wasm 4.x)`);
  }
  const instance = new webAssembly.Instance(new webAssembly.Module(simdModuleBytes()), { env: { memory } });
  return instance.exports as unknown as SimdKernels;
}

/** The heap byte offset of a tensor's data on the wasm backend. */
export function heapOffset(backend: tf.KernelBackend, info: tf.TensorInfo): number {
  const data = (backend as unknown as WasmBackendInternals).dataIdMap.get(info.dataId);
  if (data === undefined) throw new Error('wasm gradient kernels: a tensor has no data on the wasm backend');
  return data.memoryOffset;
}
