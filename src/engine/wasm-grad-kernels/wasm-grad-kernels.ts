import type * as tf from '@tensorflow/tfjs';
import type { ProgressEvent, ProgressListener } from '../../progress.js';
import { loadNativeGemm, type NativeGemm } from './native-gemm.js';
import { instantiateSimdKernels, type SimdKernels } from './simd-module.js';

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

/** How the optional fast paths are loaded; replaced in tests to force a failure. */
export interface WasmGradKernelLoaders {
  /** @throws Error with the reason when the SIMD loops cannot run on `backend`. */
  readonly instantiateSimd: (backend: tf.KernelBackend) => SimdKernels;
  /** @throws Error with the reason when the native GEMM cannot be loaded. */
  readonly loadNativeGemm: (threads: number) => NativeGemm;
}

const DEFAULT_LOADERS: WasmGradKernelLoaders = { instantiateSimd: instantiateSimdKernels, loadNativeGemm };

/**
 * The state of Graft's wasm training kernels, owned by whoever registered them: which fast paths are on, the
 * SIMD instances and native GEMM loaded for them, and where warnings go. {@link registerWasmGradKernels}
 * returns it; the kernels registered in tfjs close over it, so nothing lives in module globals. (tfjs's kernel
 * registry is itself process-wide: one registration, and so one of these, serves the whole process.)
 */
export class WasmGradKernels {
  private threads = 0;
  private isSimdOn = true;
  private isOverridesOn = true;
  private listener: ProgressListener | undefined;
  private gemm: { readonly threads: number; readonly gemm: NativeGemm | undefined } | undefined;
  /** Per backend: its SIMD instance, or null once it failed there (not retried). */
  private readonly simdByBackend = new WeakMap<object, SimdKernels | null>();
  private readonly raised = new Map<WasmGradKernelWarningCode, WasmGradKernelWarning>();

  constructor(options: WasmGradKernelOptions = {}, private readonly loaders: WasmGradKernelLoaders = DEFAULT_LOADERS) {
    this.configure(options);
  }

  /**
   * Applies `options` (omitted ones keep their value). Turning the native GEMM on loads it now: a failure is a
   * NATIVE_GEMM_UNAVAILABLE warning, and products stay in wasm.
   * @throws RangeError for a thread count that is not a non-negative integer.
   */
  configure(options: WasmGradKernelOptions): this {
    if (options.onProgress !== undefined && options.onProgress !== this.listener) {
      this.listener = options.onProgress;
      for (const warning of this.raised.values()) this.listener(warning);
    }
    if (options.simdLoops !== undefined) this.isSimdOn = options.simdLoops;
    if (options.gradientOverrides !== undefined) this.isOverridesOn = options.gradientOverrides;
    if (options.nativeGemm !== undefined) {
      const threads = options.nativeGemm === true ? 1 : options.nativeGemm === false ? 0 : options.nativeGemm;
      if (!Number.isInteger(threads) || threads < 0) throw new RangeError(`nativeGemm threads must be a non-negative integer. Received: ${threads}`);
      this.threads = threads;
      if (threads > 0) this.nativeGemm();
    }
    return this;
  }

  /** Intra-op threads of the native GEMM, 0 when it is off. */
  get nativeGemmThreads(): number {
    return this.threads;
  }

  /** Whether the SIMD loops are switched on (they may still be unavailable on a backend: see {@link simd}). */
  get isSimdEnabled(): boolean {
    return this.isSimdOn;
  }

  /** Whether the ClipByValue/Relu6/Relu gradient overrides are switched on. */
  get areGradientOverridesEnabled(): boolean {
    return this.isOverridesOn;
  }

  /** The warnings raised so far: the fallbacks in effect. */
  get warnings(): readonly WasmGradKernelWarning[] {
    return [...this.raised.values()];
  }

  /**
   * The SIMD loops bound to `backend`'s memory; undefined when switched off, or when they cannot run there
   * (the first time: a SIMD_UNAVAILABLE warning with the reason). Callers then use tfjs's kernels.
   */
  simd(backend: tf.KernelBackend): SimdKernels | undefined {
    if (!this.isSimdOn) return undefined;
    let kernels = this.simdByBackend.get(backend);
    if (kernels === undefined) {
      try {
        kernels = this.loaders.instantiateSimd(backend);
      } catch (error) {
        kernels = null;
        this.warn('SIMD_UNAVAILABLE', `Graft's WebAssembly SIMD training loops cannot run (${reason(error)}); training uses tfjs-wasm's slower kernel compositions (the whole of MobileNetV2 trained 2x slower without them, bench/RESULTS.md)`);
      }
      this.simdByBackend.set(backend, kernels);
    }
    return kernels ?? undefined;
  }

  /** The native GEMM when it is on and loaded (a failed load is a NATIVE_GEMM_UNAVAILABLE warning, not retried for that thread count). */
  nativeGemm(): NativeGemm | undefined {
    if (this.threads === 0) return undefined;
    if (this.gemm?.threads !== this.threads) {
      let gemm: NativeGemm | undefined;
      try {
        gemm = this.loaders.loadNativeGemm(this.threads);
      } catch (error) {
        this.warn('NATIVE_GEMM_UNAVAILABLE', `onnxruntime's native GEMM cannot be loaded (${reason(error)}); large matrix products stay in tfjs-wasm (a MobileNetV2 top-3 training step measured 53 instead of 122 img/s)`);
      }
      this.gemm = { threads: this.threads, gemm };
    }
    return this.gemm.gemm;
  }

  private warn(code: WasmGradKernelWarningCode, message: string): void {
    const warning: WasmGradKernelWarning = { type: 'warning', code, message };
    this.raised.set(code, warning);
    this.listener?.(warning);
  }
}

function reason(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
}
