import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { encodeOnnxModel, makeFloatValueInfo, makeNode, onnx } from '../../onnx/onnx-model.js';

/**
 * Matrix products on the wasm heap, computed by onnxruntime's native CPU GEMM (MLAS: AVX2/AVX-512 FMA,
 * intra-op threads) instead of XNNPACK's wasm SIMD, which has no FMA and one thread (~12 GMAC/s here, the
 * ceiling of every 1x1 conv and dense layer in training).
 *
 * onnxruntime-node's public `InferenceSession.run` is asynchronous, but tfjs kernels must be synchronous; its
 * native binding's `run` is synchronous (the public API only defers it with setImmediate), so this loads the
 * binding the public API wraps (onnxruntime-node/dist/binding.js) and runs one-node Gemm sessions through it.
 * Inputs and the pre-allocated output are Float32Array views on tfjs-wasm's heap: no copies.
 * Measured (bench/train-imported.mjs, one thread, same run): MobileNetV2 1.0 top-3 fine-tuning step 53 -> 122 img/s,
 * whole network 10.8 -> 15.6 img/s; every pointwise layer's forward, dx and dW 2-4x faster except the
 * memory-bound [100352,16]x[16,96]. Two threads lost to one whenever the other core was busy.
 */
export interface NativeGemm {
  /** out[m, n] = op(a) · op(b), op = transpose when the flag is set; pointers are heap byte offsets. */
  run(heap: ArrayBuffer, a: number, b: number, out: number, m: number, k: number, n: number, transposeA: boolean, transposeB: boolean): void;
}

interface OrtBinding {
  binding: { InferenceSession: new () => OrtSession };
  initOrt(): void;
}
interface OrtSession {
  loadModel(buffer: ArrayBufferLike, byteOffset: number, byteLength: number, options: Record<string, unknown>): void;
  run(feeds: Record<string, unknown>, fetches: Record<string, unknown>, options: Record<string, unknown>): unknown;
}
type OrtTensorClass = new (type: 'float32', data: Float32Array, dims: readonly number[]) => unknown;

/** Whether the native GEMM can run in this process (onnxruntime-node's binding loads and runs a Gemm). */
export function isNativeGemmAvailable(): boolean {
  try {
    loadNativeGemm(1);
    return true;
  } catch {
    return false; // the question asked; WasmGradKernels reports the reason when the GEMM is wanted
  }
}

/**
 * The native GEMM with `threads` intra-op threads: onnxruntime-node's binding loaded and its four one-node Gemm
 * sessions (each transposition) created now, so that whatever fails, fails here and not inside a training step.
 * @throws Error with the reason when onnxruntime-node's binding cannot be loaded or cannot create a session.
 */
export function loadNativeGemm(threads: number): NativeGemm {
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`nativeGemm threads must be a positive integer. Received: ${threads}`);
  const require = createRequire(import.meta.url);
  const ortMain = require.resolve('onnxruntime-node');
  const { binding, initOrt } = require(join(dirname(ortMain), 'binding.js')) as OrtBinding;
  const Tensor = (require('onnxruntime-node') as { Tensor: OrtTensorClass }).Tensor;
  initOrt();
  const session = (transA: boolean, transB: boolean): OrtSession => {
    const node = makeNode('Gemm', ['a', 'b'], ['c'], { attributes: { transA: { int: transA ? 1 : 0 }, transB: { int: transB ? 1 : 0 } } });
    const graph = onnx.GraphProto.create({
      name: 'graft_gemm',
      node: [node],
      input: [makeFloatValueInfo('a', [null, null], 'A'), makeFloatValueInfo('b', [null, null], 'B')],
      output: [makeFloatValueInfo('c', [null, null], 'C')],
    });
    const bytes = encodeOnnxModel(onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 13 }], graph }));
    const s = new binding.InferenceSession();
    s.loadModel(bytes.buffer, bytes.byteOffset, bytes.byteLength, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'disabled' });
    return s;
  };
  // Indexed by transposeA * 2 + transposeB.
  const sessions = [session(false, false), session(false, true), session(true, false), session(true, true)] as const;
  return {
    run(heap, a, b, out, m, k, n, transposeA, transposeB) {
      const av = new Float32Array(heap, a, m * k);
      const bv = new Float32Array(heap, b, k * n);
      const cv = new Float32Array(heap, out, m * n);
      sessions[(transposeA ? 2 : 0) + (transposeB ? 1 : 0)]!.run(
        { a: new Tensor('float32', av, transposeA ? [k, m] : [m, k]), b: new Tensor('float32', bv, transposeB ? [n, k] : [k, n]) },
        { c: new Tensor('float32', cv, [m, n]) },
        {},
      );
    },
  };
}

/** Heap of the wasm backend (read on every call: growing the memory replaces its ArrayBuffer). */
export function wasmHeap(backend: tf.KernelBackend): ArrayBuffer | undefined {
  const memory = (backend as unknown as { wasm?: { asm?: { memory?: { buffer?: unknown } } } }).wasm?.asm?.memory;
  return memory?.buffer instanceof ArrayBuffer ? memory.buffer : undefined;
}
