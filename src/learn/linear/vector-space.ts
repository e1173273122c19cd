import { VECTOR_KERNELS_WASM } from './vector-kernels-wasm.generated.js';

/**
 * Where L-BFGS keeps its parameter vectors and the loops it runs over them. Two kinds, same results to the bit:
 *
 * - {@link jsVectors}: plain Float64Arrays and JavaScript loops (V8 runs these at ~1 ns per element and pass);
 * - {@link VectorArena}: slots in one WebAssembly memory and vector-kernels.wat's SIMD loops over them, ~2.7x
 *   faster here. They were most of a cross-validation's time outside onnxruntime's matrix products.
 *
 * The arena's loops need every operand in its memory; given any other array, an operation runs the JavaScript loop
 * instead, so a vector from elsewhere (a caller's starting point) is always safe, only slower.
 */
export interface VectorSpace {
  /** A new zeroed vector of the space's length. */
  alloc(): Float64Array;
  /** `v` as a vector of this space: the same array when it is one (or the space has no memory of its own), else a copy. */
  adopt(v: Float64Array): Float64Array;
  dot(a: Float64Array, b: Float64Array): number;
  /** q = (q + a x) * scale; returns d . q (the updated q). */
  axpyScaleDot(q: Float64Array, a: number, x: Float64Array, scale: number, d: Float64Array): number;
  /** q = -(q + b s). */
  negAxpy(q: Float64Array, b: number, s: Float64Array): void;
  /** y[i] += a x[i] for the first `count` entries (all when not given). */
  axpy(y: Float64Array, a: number, x: Float64Array, count?: number): void;
  /** out = x + step d. */
  along(out: Float64Array, x: Float64Array, step: number, d: Float64Array): void;
  /** s = t - x and y = g - gp; returns s . y. */
  diffDot(s: Float64Array, y: Float64Array, t: Float64Array, x: Float64Array, g: Float64Array, gp: Float64Array): number;
  /** The largest |g_i|, NaNs passed over. */
  absMax(g: Float64Array): number;
}

// The JavaScript loops. Dot products keep four partial sums (element i to sum i mod 4, the last n mod 4 to sum 0,
// added as (s0 + s1) + (s2 + s3)): one running sum is a chain of dependent additions, which bounds a dot product in
// V8 (1.5x slower on 30k-long vectors). vector-kernels.wat keeps the same sums in the same order.

function axpyScaleDot(q: Float64Array, a: number, x: Float64Array, scale: number, d: Float64Array): number {
  const n = q.length;
  const end = n - (n % 4);
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  for (let i = 0; i < end; i += 4) {
    const v0 = (q[i]! + a * x[i]!) * scale;
    const v1 = (q[i + 1]! + a * x[i + 1]!) * scale;
    const v2 = (q[i + 2]! + a * x[i + 2]!) * scale;
    const v3 = (q[i + 3]! + a * x[i + 3]!) * scale;
    q[i] = v0;
    q[i + 1] = v1;
    q[i + 2] = v2;
    q[i + 3] = v3;
    s0 += d[i]! * v0;
    s1 += d[i + 1]! * v1;
    s2 += d[i + 2]! * v2;
    s3 += d[i + 3]! * v3;
  }
  for (let i = end; i < n; i++) {
    const v = (q[i]! + a * x[i]!) * scale;
    q[i] = v;
    s0 += d[i]! * v;
  }
  return s0 + s1 + (s2 + s3);
}

function dot(a: Float64Array, b: Float64Array): number {
  const n = a.length;
  const end = n - (n % 4);
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  for (let i = 0; i < end; i += 4) {
    s0 += a[i]! * b[i]!;
    s1 += a[i + 1]! * b[i + 1]!;
    s2 += a[i + 2]! * b[i + 2]!;
    s3 += a[i + 3]! * b[i + 3]!;
  }
  for (let i = end; i < n; i++) s0 += a[i]! * b[i]!;
  return s0 + s1 + (s2 + s3);
}

function negAxpy(q: Float64Array, b: number, s: Float64Array): void {
  for (let i = 0; i < q.length; i++) q[i] = -(q[i]! + b * s[i]!);
}

function axpy(y: Float64Array, a: number, x: Float64Array, count = y.length): void {
  for (let i = 0; i < count; i++) y[i] = y[i]! + a * x[i]!;
}

function along(out: Float64Array, x: Float64Array, step: number, d: Float64Array): void {
  for (let i = 0; i < out.length; i++) out[i] = x[i]! + step * d[i]!;
}

function diffDot(s: Float64Array, y: Float64Array, t: Float64Array, x: Float64Array, g: Float64Array, gp: Float64Array): number {
  for (let i = 0; i < s.length; i++) {
    s[i] = t[i]! - x[i]!;
    y[i] = g[i]! - gp[i]!;
  }
  return dot(s, y);
}

function absMax(g: Float64Array): number {
  let max = 0;
  for (let i = 0; i < g.length; i++) {
    const v = Math.abs(g[i]!);
    if (v > max) max = v;
  }
  return max;
}

/** Plain Float64Arrays of `length` and the JavaScript loops. */
export function jsVectors(length: number): VectorSpace {
  return { alloc: () => new Float64Array(length), adopt: (v) => v, dot, axpyScaleDot, negAxpy, axpy, along, diffDot, absMax };
}

/** vector-kernels.wat's exports: pointers are byte offsets into the memory, n counts doubles. */
interface VectorKernels {
  dot(a: number, b: number, n: number): number;
  axpyScaleDot(q: number, a: number, x: number, scale: number, d: number, n: number): number;
  negAxpy(q: number, b: number, s: number, n: number): void;
  axpy(y: number, a: number, x: number, n: number): void;
  along(out: number, x: number, step: number, d: number, n: number): void;
  diffDot(s: number, y: number, t: number, x: number, g: number, gp: number, n: number): number;
  absMax(g: number, n: number): number;
}

interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

/** The WebAssembly JS API (this project compiles without the DOM lib, whose types declare it). */
interface WebAssemblyApi {
  Memory: new (descriptor: { initial: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { exports: unknown };
}
const webAssembly = (globalThis as unknown as { WebAssembly?: WebAssemblyApi }).WebAssembly;
let compiled: object | null | undefined;

/** The kernels' module, compiled once per process; null where WebAssembly SIMD is missing. */
function kernelModule(): object | null {
  if (compiled !== undefined) return compiled;
  try {
    compiled = webAssembly ? new webAssembly.Module(Uint8Array.from(VECTOR_KERNELS_WASM)) : null;
  } catch {
    compiled = null;
  }
  return compiled;
}

/** Largest arena made (a larger problem runs the JavaScript loops): WebAssembly memories stop at 4 GiB. */
let maxArenaBytes = 2 ** 30;

/** @internal Sets the largest arena made and returns the previous limit: 0 makes every run use plain arrays (tests compare the two). */
export function setMaxArenaBytes(bytes: number): number {
  const previous = maxArenaBytes;
  maxArenaBytes = bytes;
  return previous;
}
const PAGE = 65536;

/**
 * The memory of the last arena given back, for the next one. Memory touched for the first time costs ~3 ms per MB
 * on the machine measured, touching it again ~0.05 ms (bench/RESULTS.md): a selection's arena (~50 MB for 12
 * classes of 2560-d features) cost ~150 ms of page faults at every run. Reused, a process faults it in once: the
 * final fit runs in the selection's pages, and the next `train()` of the same process (the dashboard, a script that
 * retrains) in those again. Keeping one never raises a process's peak memory (the next arena would take as much
 * anew); it is dropped POOL_IDLE_MS after its last use, so a long-lived process that stops training gives it back.
 */
let pooled: { readonly memory: WasmMemory; readonly timer: ReturnType<typeof setTimeout> } | undefined;
const POOL_IDLE_MS = 60_000;

/** The pooled memory grown to `pages` where it is smaller, else a new one. */
function takeMemory(api: WebAssemblyApi, pages: number): WasmMemory {
  const reused = pooled;
  pooled = undefined;
  if (!reused) return new api.Memory({ initial: pages });
  clearTimeout(reused.timer);
  const have = reused.memory.buffer.byteLength / PAGE;
  if (have < pages) reused.memory.grow(pages - have);
  return reused.memory;
}

/** Keeps `memory` for the next arena (the larger one where one is kept already). */
function poolMemory(memory: WasmMemory): void {
  const bytes = memory.buffer.byteLength;
  if (pooled && pooled.memory.buffer.byteLength >= bytes) return;
  if (pooled) clearTimeout(pooled.timer);
  const timer = setTimeout(() => {
    if (pooled?.memory === memory) pooled = undefined;
  }, POOL_IDLE_MS);
  timer.unref?.();
  pooled = { memory, timer };
}

/**
 * `slots` vectors of `length` doubles in one WebAssembly memory. Slots are handed out by `alloc` and given back all but
 * some by `retainOnly` (for a caller that keeps a few vectors from one minimisation to the next). `release` gives the
 * memory back for the next arena to reuse (see takeMemory); an arena never released goes to the garbage collector
 * with its memory. It never grows, since growing would detach every view already handed out; with every slot taken,
 * `alloc` returns plain arrays (correct, only slower). Slots are handed out lowest first, so the memory a process
 * touches is what the most vectors alive at once need.
 */
export class VectorArena implements VectorSpace {
  readonly length: number;
  readonly slots: number;
  readonly #memory: WasmMemory;
  readonly #buffer: ArrayBuffer;
  readonly #kernels: VectorKernels;
  /** Bytes between slots: a multiple of 64, so each vector starts on a cache line. */
  readonly #stride: number;
  /** Slots never handed out start at `#fresh`; slots given back wait in `#free`. */
  #fresh = 0;
  readonly #free: number[] = [];

  #released = false;

  private constructor(length: number, slots: number, memory: WasmMemory, kernels: VectorKernels, stride: number) {
    this.length = length;
    this.slots = slots;
    this.#memory = memory;
    this.#buffer = memory.buffer;
    this.#kernels = kernels;
    this.#stride = stride;
  }

  /** An arena, or undefined where WebAssembly SIMD is missing or the memory would be too large. */
  static create(length: number, slots: number): VectorArena | undefined {
    const module = kernelModule();
    const stride = Math.ceil((length * 8) / 64) * 64;
    const bytes = stride * slots;
    if (!module || !webAssembly || bytes > maxArenaBytes || length === 0) return undefined;
    try {
      const memory = takeMemory(webAssembly, Math.ceil(bytes / PAGE));
      const instance = new webAssembly.Instance(module, { env: { memory } });
      return new VectorArena(length, slots, memory, instance.exports as VectorKernels, stride);
    } catch {
      return undefined;
    }
  }

  /** Slots handed out at least once: the memory this arena has touched is `touched` vectors. */
  get touched(): number {
    return this.#fresh;
  }

  alloc(): Float64Array {
    const slot = this.#free.pop() ?? (this.#fresh < this.slots ? this.#fresh++ : -1);
    if (slot < 0) return new Float64Array(this.length);
    const v = new Float64Array(this.#buffer, slot * this.#stride, this.length);
    v.fill(0);
    return v;
  }

  /**
   * Gives the memory back for the next arena: no vector this arena handed out may be used afterwards (the next
   * arena writes over them). Later `alloc`s return plain arrays.
   */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#free.length = 0;
    this.#fresh = this.slots;
    poolMemory(this.#memory);
  }

  /** A copy of `v` in this arena. */
  copy(v: Float64Array): Float64Array {
    const copy = this.alloc();
    copy.set(v);
    return copy;
  }

  adopt(v: Float64Array): Float64Array {
    return this.#owns(v) ? v : this.copy(v);
  }

  /** Gives back the slots of `vectors` (vectors of other memories in it are ignored): their views must not be used again. */
  giveBack(vectors: Iterable<Float64Array>): void {
    for (const v of vectors) if (this.#owns(v)) this.#free.push(v.byteOffset / this.#stride);
  }

  /** Gives back every slot but those of `kept` (vectors of other memories in it are ignored): views of the others must not be used again. */
  retainOnly(kept: Iterable<Float64Array>): void {
    if (this.#released) return;
    const keep = new Uint8Array(this.#fresh);
    for (const v of kept) if (this.#owns(v)) keep[v.byteOffset / this.#stride] = 1;
    this.#free.length = 0;
    // Highest first, so alloc (which pops) hands out the lowest slots first.
    for (let slot = this.#fresh - 1; slot >= 0; slot--) if (!keep[slot]) this.#free.push(slot);
  }

  /** Whether `v` is a vector of this arena (a view of its memory), so the kernels can read it. */
  #owns(v: Float64Array): boolean {
    return !this.#released && v.buffer === this.#buffer && v.length === this.length;
  }

  dot(a: Float64Array, b: Float64Array): number {
    return this.#owns(a) && this.#owns(b) ? this.#kernels.dot(a.byteOffset, b.byteOffset, this.length) : dot(a, b);
  }

  axpyScaleDot(q: Float64Array, a: number, x: Float64Array, scale: number, d: Float64Array): number {
    return this.#owns(q) && this.#owns(x) && this.#owns(d)
      ? this.#kernels.axpyScaleDot(q.byteOffset, a, x.byteOffset, scale, d.byteOffset, this.length)
      : axpyScaleDot(q, a, x, scale, d);
  }

  negAxpy(q: Float64Array, b: number, s: Float64Array): void {
    if (this.#owns(q) && this.#owns(s)) this.#kernels.negAxpy(q.byteOffset, b, s.byteOffset, this.length);
    else negAxpy(q, b, s);
  }

  axpy(y: Float64Array, a: number, x: Float64Array, count = this.length): void {
    if (this.#owns(y) && this.#owns(x) && count >= 0 && count <= this.length) this.#kernels.axpy(y.byteOffset, a, x.byteOffset, count);
    else axpy(y, a, x, count);
  }

  along(out: Float64Array, x: Float64Array, step: number, d: Float64Array): void {
    if (this.#owns(out) && this.#owns(x) && this.#owns(d)) this.#kernels.along(out.byteOffset, x.byteOffset, step, d.byteOffset, this.length);
    else along(out, x, step, d);
  }

  diffDot(s: Float64Array, y: Float64Array, t: Float64Array, x: Float64Array, g: Float64Array, gp: Float64Array): number {
    return this.#owns(s) && this.#owns(y) && this.#owns(t) && this.#owns(x) && this.#owns(g) && this.#owns(gp)
      ? this.#kernels.diffDot(s.byteOffset, y.byteOffset, t.byteOffset, x.byteOffset, g.byteOffset, gp.byteOffset, this.length)
      : diffDot(s, y, t, x, g, gp);
  }

  absMax(g: Float64Array): number {
    return this.#owns(g) ? this.#kernels.absMax(g.byteOffset, this.length) : absMax(g);
  }
}
