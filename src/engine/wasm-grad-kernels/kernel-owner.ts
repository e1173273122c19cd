import type { WasmGradKernels } from './wasm-grad-kernels.js';

/** Marks a GradConfig (or kernelFunc) as registered by Graft, and which {@link WasmGradKernels} it reads. */
// Symbol.for: a second copy of Graft in the process (src and dist, two installs) finds the first one's registration.
export const OWNER: unique symbol = Symbol.for('graft.wasmGradKernels') as never;

/** A tfjs registration made by Graft: the owner found again from tfjs's registry, with no module state. */
export type Owned<T> = T & { readonly [OWNER]: WasmGradKernels };

/** The WasmGradKernels that registered `item`, if Graft did. */
export function ownerOf(item: object | undefined): WasmGradKernels | undefined {
  return item === undefined ? undefined : (item as Partial<Owned<object>>)[OWNER];
}
