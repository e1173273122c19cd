import * as tf from '@tensorflow/tfjs';

/** A tensor handle at the kernel level: no engine bookkeeping, just a backend data id, shape and dtype. */
export type TensorInfo = tf.TensorInfo;

/**
 * Runs wasm kernels on TensorInfos inside another kernel, and frees the intermediates it made.
 *
 * Why not tf ops: a kernelFunc runs inside the engine's own bookkeeping (tidy scopes, the gradient
 * tape); calling kernelFuncs directly, as tfjs-backend-wasm's composite kernels (BatchMatMul, StridedSlice)
 * do, keeps the composition invisible to the engine and costs no Tensor objects.
 * Backend refcounts make this safe: Reshape shares its input's data and increments its refcount,
 * and {@link release} only decrements it.
 */
export class WasmKernelScope {
  private readonly temporaries: TensorInfo[] = [];

  constructor(readonly backend: tf.KernelBackend) {}

  /** Runs the wasm kernel `kernelName`; the result is freed by {@link dispose} unless {@link keep} takes it. */
  run(kernelName: string, inputs: tf.NamedTensorInfoMap, attrs: Record<string, unknown> = {}): TensorInfo {
    const config = tf.getKernel(kernelName, 'wasm');
    if (config === undefined) throw new Error(`wasm gradient kernels need the wasm kernel '${kernelName}', which is not registered`);
    const out = config.kernelFunc({ inputs, backend: this.backend, attrs: attrs as tf.NamedAttrMap });
    const info = Array.isArray(out) ? out[0] : out;
    if (info === undefined) throw new Error(`wasm kernel '${kernelName}' returned no output`);
    this.temporaries.push(info);
    return info;
  }

  /** A float32 constant made from `values` (freed with the other intermediates). */
  constant(values: Float32Array, shape: number[]): TensorInfo {
    // BackendWasm.makeOutput(shape, dtype, memoryOffset, values) copies `values` into the wasm heap.
    const wasm = this.backend as unknown as { makeOutput(shape: number[], dtype: 'float32', memoryOffset?: number, values?: Float32Array): TensorInfo };
    const info = wasm.makeOutput(shape, 'float32', undefined, values);
    this.temporaries.push(info);
    return info;
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  /** Removes `info` from the intermediates so that it survives {@link dispose} (a kernel's result). */
  keep(info: TensorInfo): TensorInfo {
    const at = this.temporaries.lastIndexOf(info);
    if (at >= 0) this.temporaries.splice(at, 1);
    return info;
  }

  /** Frees every intermediate not kept. Call in `finally`. */
  dispose(): void {
    for (const info of this.temporaries) this.backend.disposeData(info.dataId);
    this.temporaries.length = 0;
  }
}

/** Runs `body` with a fresh scope and returns its kept result; intermediates are freed even on throw. */
export function withWasmKernelScope(backend: tf.KernelBackend, body: (scope: WasmKernelScope) => TensorInfo): TensorInfo {
  const scope = new WasmKernelScope(backend);
  try {
    return scope.keep(body(scope));
  } finally {
    scope.dispose();
  }
}
