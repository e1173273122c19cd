import type * as tf from '@tensorflow/tfjs';
import { wasmHeap } from './native-gemm.js';
import { heapOffset } from './simd-module.js';
import type { WasmGradKernelsImpl } from './wasm-grad-kernels-impl.js';
import { withWasmKernelScope, type TensorInfo } from './wasm-kernel-scope.js';

interface BatchMatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

/** Largest [m, n] result the streaming A^T·B loop keeps in cache (floats): 32 KiB. */
const SMALL_PRODUCT = 8192;
/** Smallest product (multiply-adds) worth a native GEMM call (~20-40 µs of session overhead). */
const NATIVE_MIN_MACS = 1 << 20;

/**
 * BatchMatMul for wasm with transposed operands made explicit: wasm's kernel runs XNNPACK's GEMM only when
 * neither operand is transposed and leaves it for a scalar loop otherwise (~10-40x slower). matMul's
 * gradients are exactly those cases (dA = dy·B^T, dB = A^T·dy), so every imported 1x1 conv, Gemm and dense
 * head trained at that speed. Measured at [392,320]^T·[392,1280] (MobileNetV2 1.0's last conv, min of 5):
 * 183 ms before, 19 ms as Transpose + GEMM. A transposed operand is transposed by wasm's Transpose (A^T·B:
 * transpose A, or B and the result when that moves less; A·B^T: transpose B; both: (B·A)^T), then wasm's own
 * kernel runs untransposed.
 *
 * Two other routes, both for unbatched float32 products:
 * - a tall-skinny A^T·B whose [m, n] result fits in cache (a 1x1 conv's weight gradient at high resolution,
 *   [100352,16]^T·[100352,96]: 159 -> 16 ms) runs Graft's streaming SIMD loop (simd-module.ts transposedProduct);
 * - with `registerWasmGradKernels({ nativeGemm })`, every product of at least 2^20 multiply-adds runs in
 *   onnxruntime's native GEMM (native-gemm.ts), transposes included.
 * Batched (rank > 2 with a batch > 1) products go to `fallback` unchanged.
 */
export function makeBatchMatMulKernel(owner: WasmGradKernelsImpl, fallback: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = attrs as unknown as BatchMatMulAttrs;
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return fallback(args);
    const batchA = a.shape.slice(0, -2).reduce((p, d) => p * d, 1);
    const batchB = b.shape.slice(0, -2).reduce((p, d) => p * d, 1);
    if (batchA !== 1 || batchB !== 1) return fallback(args);
    const [ra, ca] = a.shape.slice(-2) as [number, number];
    const [rb, cb] = b.shape.slice(-2) as [number, number];
    const m = transposeA ? ca : ra;
    const n = transposeB ? rb : cb;
    const k = transposeA ? ra : ca;
    if (k !== (transposeB ? cb : rb)) return fallback(args); // let wasm's kernel report the shape error
    const outShape = [...(a.shape.length >= b.shape.length ? a.shape : b.shape).slice(0, -2), m, n];
    const bk = backend as tf.KernelBackend;
    const makeOutput = (): TensorInfo => (backend as unknown as { makeOutput(shape: number[], dtype: 'float32'): TensorInfo }).makeOutput(outShape, 'float32');

    const gemm = m * n * k >= NATIVE_MIN_MACS ? owner.nativeGemm() : undefined;
    if (gemm !== undefined && wasmHeap(bk) !== undefined) {
      const out = makeOutput();
      // Read the heap after allocating the output: an allocation can grow wasm memory, which detaches the old buffer.
      gemm.run(wasmHeap(bk)!, heapOffset(bk, a), heapOffset(bk, b), heapOffset(bk, out), m, k, n, transposeA, transposeB);
      return out;
    }
    if (!transposeA && !transposeB) return fallback(args);
    const kernels = owner.simd(bk);
    if (transposeA && !transposeB && kernels !== undefined && n % 4 === 0 && m * n <= SMALL_PRODUCT && k >= m + n) {
      const out = makeOutput();
      kernels.transposedProduct(heapOffset(bk, a), heapOffset(bk, b), heapOffset(bk, out), k, m, n);
      return out;
    }
    return withWasmKernelScope(bk, (scope) => {
      const untransposed = { transposeA: false, transposeB: false };
      const a2 = scope.reshape(a, [ra, ca]);
      const b2 = scope.reshape(b, [rb, cb]);
      let product: TensorInfo;
      if (transposeA && transposeB) {
        // A^T·B^T = (B·A)^T: one GEMM and one transpose of the [n, m] result.
        const ba = scope.run('BatchMatMul', { a: b2, b: a2 }, untransposed);
        product = scope.run('Transpose', { x: scope.reshape(ba, [n, m]) }, { perm: [1, 0] });
      } else if (transposeA && k * m > k * n + m * n) {
        // A^T·B = (B^T·A)^T when transposing B and the result moves less data than transposing A.
        const bT = scope.run('Transpose', { x: b2 }, { perm: [1, 0] });
        const ba = scope.run('BatchMatMul', { a: bT, b: a2 }, untransposed);
        product = scope.run('Transpose', { x: scope.reshape(ba, [n, m]) }, { perm: [1, 0] });
      } else if (transposeA) {
        const aT = scope.run('Transpose', { x: a2 }, { perm: [1, 0] });
        product = scope.run('BatchMatMul', { a: aT, b: b2 }, untransposed);
      } else {
        const bT = scope.run('Transpose', { x: b2 }, { perm: [1, 0] });
        product = scope.run('BatchMatMul', { a: a2, b: bT }, untransposed);
      }
      return scope.reshape(product, outShape);
    });
  };
}
