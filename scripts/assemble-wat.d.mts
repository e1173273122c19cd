/** Types of assemble-wat.mjs, for the tests that assemble the kernels afresh. */
export function assembleWat(file: string): Promise<Uint8Array>;
