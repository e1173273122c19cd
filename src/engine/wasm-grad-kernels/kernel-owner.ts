import type { WasmGradKernelsImpl } from './wasm-grad-kernels-impl.js';

/**
 * Marks a kernelFunc or GradConfig as registered by this copy of Graft, and which WasmGradKernelsImpl it reads.
 * A plain Symbol, not Symbol.for: another copy of Graft in the process (another version, or vitest's fresh module
 * graph per test file sharing one tfjs) does not take this one's registration for its own; it registers on top,
 * its kernels falling back to these.
 */
export const OWNER: unique symbol = Symbol('graft.wasmGradKernels');

/** A tfjs registration made by Graft: the owner found again from tfjs's registry, with no module state. */
export type Owned<T> = T & { readonly [OWNER]: WasmGradKernelsImpl };

/** The WasmGradKernelsImpl that registered `item`, if Graft did. */
export function ownerOf(item: object | undefined): WasmGradKernelsImpl | undefined {
  return item === undefined ? undefined : (item as Partial<Owned<object>>)[OWNER];
}
