import type * as tf from '@tensorflow/tfjs';
import type { ProgressListener } from '../../core/progress.js';
import { loadNativeGemm, type NativeGemm } from './native-gemm.js';
import { instantiateSimdKernels, type SimdKernels } from './simd-module.js';
import type { WasmGradKernelOptions, WasmGradKernels, WasmGradKernelWarning, WasmGradKernelWarningCode } from './wasm-grad-kernels.js';

/** How the optional fast paths are loaded; replaced in tests to force a failure. */
export interface WasmGradKernelLoaders {
  /** @throws Error with the reason when the SIMD loops cannot run on `backend`. */
  readonly instantiateSimd: (backend: tf.KernelBackend) => SimdKernels;
  /** @throws Error with the reason when the native GEMM cannot be loaded. */
  readonly loadNativeGemm: (threads: number) => NativeGemm;
}

const DEFAULT_LOADERS: WasmGradKernelLoaders = { instantiateSimd: instantiateSimdKernels, loadNativeGemm };

/**
 * {@link WasmGradKernels} and what the kernels ask of it: the SIMD instance for a backend and the native GEMM,
 * loaded on first use and kept here, and where warnings go. The kernel factories take this class; users see
 * the interface.
 */
export class WasmGradKernelsImpl implements WasmGradKernels {
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
