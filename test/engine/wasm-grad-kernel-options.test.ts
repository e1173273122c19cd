import { join } from 'node:path';
import { Writable } from 'node:stream';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { renderProgress } from '../../src/cli/render-progress.js';
import { ensureTfjsBackend } from '../../src/runtime/tfjs-backend.js';
import {
  isNativeGemmAvailable,
  registerWasmGradKernels,
  setWasmGradOverrides,
  setWasmSimdLoops,
  type WasmGradKernelWarning,
} from '../../src/engine/wasm-grad-kernels/index.js';
import { WasmGradKernelsImpl } from '../../src/engine/wasm-grad-kernels/wasm-grad-kernels-impl.js';
import { loadNativeGemm } from '../../src/engine/wasm-grad-kernels/native-gemm.js';
import { heapOffset, instantiateSimdKernels, simdModuleBytes } from '../../src/engine/wasm-grad-kernels/simd-module.js';
import type { ProgressEvent } from '../../src/core/progress.js';
import { assembleWat } from '../../scripts/assemble-wat.mjs';
import { expectsNativeGemm, repoRoot } from '../support.js';

/** The WebAssembly JS API (the project compiles without the DOM lib). */
const wasmApi = (globalThis as unknown as {
  WebAssembly: {
    validate(bytes: Uint8Array): boolean;
    Module: { new (bytes: Uint8Array): object; exports(m: object): { name: string; kind: string }[]; imports(m: object): { module: string; name: string; kind: string }[] };
  };
}).WebAssembly;

/** The registration's handle with the methods the kernels use (the public type hides them). */
function registered(): WasmGradKernelsImpl {
  const kernels = registerWasmGradKernels();
  expect(kernels).toBeInstanceOf(WasmGradKernelsImpl);
  return kernels as WasmGradKernelsImpl;
}

function collect(): { events: ProgressEvent[]; listener: (e: ProgressEvent) => void } {
  const events: ProgressEvent[] = [];
  return { events, listener: (e) => events.push(e) };
}

describe('the SIMD kernels module (simd-kernels.wat, assembled by wabt at build time)', () => {
  it('is a valid module that imports env.memory and exports the five loops', () => {
    const bytes = simdModuleBytes();
    expect(wasmApi.validate(bytes)).toBe(true);
    const module = new wasmApi.Module(bytes);
    expect(wasmApi.Module.imports(module)).toEqual([{ module: 'env', name: 'memory', kind: 'memory' }]);
    expect(wasmApi.Module.exports(module).map((e) => `${e.kind} ${e.name}`)).toEqual([
      'function rangeGrad', 'function columnSum', 'function depthwiseFilterGrad', 'function depthwiseInputGather', 'function transposedProduct',
    ]);
  });

  it('holds exactly the bytes wabt assembles from simd-kernels.wat now (the generated module is not stale)', async () => {
    const fresh = await assembleWat(join(repoRoot, 'src/engine/wasm-grad-kernels/simd-kernels.wat'));
    expect(Buffer.from(simdModuleBytes()).equals(Buffer.from(fresh))).toBe(true);
  });
});

describe('WasmGradKernels: options owned by the caller, fallbacks as warning events', () => {
  beforeAll(async () => {
    expect(await ensureTfjsBackend()).toBe('wasm');
  });

  it('loads the SIMD loops on the wasm backend: no warning, so the gradient tests really run them', () => {
    const kernels = registered();
    expect(kernels.simd(tf.findBackend('wasm')!)).toBeDefined();
    expect(kernels.warnings).toEqual([]);
    // And they compute: a column sum of a [3, 4] tensor, in place on the tfjs heap.
    const wasm = tf.findBackend('wasm')!;
    const simd = instantiateSimdKernels(wasm);
    const x = tf.tensor2d([1, 2, 3, 4, 10, 20, 30, 40, 100, 200, 300, 400], [3, 4]);
    const out = tf.zeros([4]);
    simd.columnSum(heapOffset(wasm, x), heapOffset(wasm, out), 3, 4);
    expect(Array.from(out.dataSync())).toEqual([111, 222, 333, 444]);
    tf.dispose([x, out]);
  });

  it('a backend where SIMD cannot load gives a SIMD_UNAVAILABLE warning with the reason, once', () => {
    const { events, listener } = collect();
    const kernels = new WasmGradKernelsImpl({ onProgress: listener });
    const cpu = tf.findBackend('cpu')!;
    expect(kernels.simd(cpu)).toBeUndefined();
    expect(kernels.simd(cpu)).toBeUndefined();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'warning', code: 'SIMD_UNAVAILABLE' });
    expect((events[0] as WasmGradKernelWarning).message).toMatch(/does not expose a WebAssembly memory.*slower kernel compositions/);
    // Switched off on purpose is not a failure.
    const off = new WasmGradKernelsImpl({ simdLoops: false, onProgress: listener });
    expect(off.simd(tf.findBackend('wasm')!)).toBeUndefined();
    expect(events).toHaveLength(1);
  });

  it('a native GEMM that fails to load gives a NATIVE_GEMM_UNAVAILABLE warning with the reason, and products stay in wasm', () => {
    const { events, listener } = collect();
    const failing = {
      instantiateSimd: instantiateSimdKernels,
      loadNativeGemm: (): never => {
        throw new Error('libonnxruntime.so.1: cannot open shared object file');
      },
    };
    const kernels = new WasmGradKernelsImpl({ nativeGemm: true, onProgress: listener }, failing);
    expect(events).toEqual([{
      type: 'warning',
      code: 'NATIVE_GEMM_UNAVAILABLE',
      message: expect.stringContaining('libonnxruntime.so.1: cannot open shared object file') as unknown as string,
    }]);
    expect(kernels.nativeGemmThreads).toBe(1);
    expect(kernels.nativeGemm()).toBeUndefined();
    expect(events).toHaveLength(1); // not retried for the same thread count
    // A later listener (the next run) is told the fallback in effect.
    const next = collect();
    kernels.configure({ onProgress: next.listener });
    expect(next.events).toEqual(events);
    kernels.configure({ onProgress: next.listener, nativeGemm: 1 }); // the same run registering again: told once
    expect(next.events).toHaveLength(1);
    expect(kernels.warnings).toEqual(events);
  });

  it.runIf(expectsNativeGemm)('the real native GEMM loads without a warning and multiplies', () => {
    expect(isNativeGemmAvailable()).toBe(true);
    const { events, listener } = collect();
    const kernels = new WasmGradKernelsImpl({ nativeGemm: 2, onProgress: listener });
    expect(kernels.nativeGemm()).toBeDefined();
    expect(events).toEqual([]);
    const gemm = loadNativeGemm(1);
    const heap = new ArrayBuffer(64);
    new Float32Array(heap, 0, 4).set([1, 2, 3, 4]); // a [2, 2]
    new Float32Array(heap, 16, 4).set([5, 6, 7, 8]); // b [2, 2]
    gemm.run(heap, 0, 16, 32, 2, 2, 2, false, true); // a · b^T
    expect(Array.from(new Float32Array(heap, 32, 4))).toEqual([17, 23, 39, 53]);
  });

  it('registration returns one handle per process; options apply to it and are validated', () => {
    const kernels = registered();
    expect(registerWasmGradKernels({ nativeGemm: false })).toBe(kernels);
    expect(() => registerWasmGradKernels({ nativeGemm: -1 })).toThrow(RangeError);
    expect(() => registerWasmGradKernels({ nativeGemm: 1.5 })).toThrow(/Received: 1.5/);
    setWasmSimdLoops(false);
    expect(kernels.isSimdEnabled).toBe(false);
    expect(kernels.simd(tf.findBackend('wasm')!)).toBeUndefined();
    setWasmSimdLoops(true);
    expect(kernels.simd(tf.findBackend('wasm')!)).toBeDefined();
    setWasmGradOverrides(false);
    expect(kernels.areGradientOverridesEnabled).toBe(false);
    kernels.configure({ gradientOverrides: true });
    expect(kernels.areGradientOverridesEnabled).toBe(true);
  });

  it('the CLI prints warnings, also when quiet', () => {
    let text = '';
    const stream = new Writable({ write(chunk, _enc, done) { text += String(chunk); done(); } }) as unknown as NodeJS.WriteStream;
    const render = renderProgress({ stream, isTTY: false, quiet: true });
    render({ type: 'info', message: 'not shown when quiet' });
    render({ type: 'warning', code: 'NATIVE_GEMM_UNAVAILABLE', message: "onnxruntime's native GEMM cannot be loaded (reason)" });
    render.stop();
    expect(text).toBe("warning: onnxruntime's native GEMM cannot be loaded (reason)\n");
  });
});
