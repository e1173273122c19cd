import type { ProgressEvent, ProgressListener } from '../../core/progress.js';

/** Options of {@link registerWasmGradKernels}, also taken by {@link WasmGradKernels.configure}. Omitted: left as it was. */
export interface WasmGradKernelOptions {
  /**
   * Run matrix products of at least 2^20 multiply-adds (1x1 convs, dense layers, and their gradients) in
   * onnxruntime's native CPU GEMM (Node only; onnxruntime-node is a dependency) instead of XNNPACK's wasm SIMD:
   * `true` for one intra-op thread, a number for that many, `false`/0 to switch it back off. Results match
   * within float rounding (the native GEMM uses FMA). Off by default. When onnxruntime-node's binding cannot be
   * loaded, products stay in wasm and a NATIVE_GEMM_UNAVAILABLE warning says why.
   */
  readonly nativeGemm?: boolean | number;
  /**
   * Graft's WebAssembly SIMD loops (simd-kernels.wat); `false` gives every kernel its XNNPACK composition, as
   * where SIMD cannot load: for benchmarks comparing both in one process. On by default. When the loops cannot
   * load on a backend, a SIMD_UNAVAILABLE warning says why.
   */
  readonly simdLoops?: boolean;
  /** The ClipByValue/Relu6/Relu gradient overrides (gradient-overrides.ts); `false` gives tfjs's own gradients. On by default. */
  readonly gradientOverrides?: boolean;
  /**
   * Receives the `warning` events of these kernels (a fallback and its reason). The latest listener passed wins,
   * and a new one is first told the warnings already raised, so that every run learns which fallbacks are in effect.
   */
  readonly onProgress?: ProgressListener;
}

/** `code` of the warnings {@link WasmGradKernels} raises. */
export type WasmGradKernelWarningCode = 'SIMD_UNAVAILABLE' | 'NATIVE_GEMM_UNAVAILABLE';

/** A warning event of these kernels. */
export type WasmGradKernelWarning = Extract<ProgressEvent, { type: 'warning' }> & { readonly code: WasmGradKernelWarningCode };

/**
 * The state of Graft's wasm training kernels, owned by whoever registered them: which fast paths are on, and the
 * warnings raised about the ones that could not load. {@link registerWasmGradKernels} returns it; the kernels
 * registered in tfjs read it, so nothing lives in module globals. (tfjs's kernel registry is itself
 * process-wide: one registration, and so one of these, serves the whole process.)
 */
export interface WasmGradKernels {
  /**
   * Applies `options` (omitted ones keep their value). Turning the native GEMM on loads it now: a failure is a
   * NATIVE_GEMM_UNAVAILABLE warning, and products stay in wasm.
   * @throws RangeError for a thread count that is not a non-negative integer.
   */
  configure(options: WasmGradKernelOptions): this;
  /** Intra-op threads of the native GEMM, 0 when it is off. */
  readonly nativeGemmThreads: number;
  /** Whether the SIMD loops are switched on (they may still be unavailable on a backend: a SIMD_UNAVAILABLE warning says so). */
  readonly isSimdEnabled: boolean;
  /** Whether the ClipByValue/Relu6/Relu gradient overrides are switched on. */
  readonly areGradientOverridesEnabled: boolean;
  /** The warnings raised so far: the fallbacks in effect. */
  readonly warnings: readonly WasmGradKernelWarning[];
}
