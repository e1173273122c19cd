import { readFile } from 'node:fs/promises';
import wabtInit from 'wabt';

/** WebAssembly features the kernels use; anything else in a .wat is a parse error. */
const FEATURES = { simd: true };

/**
 * Assembles WebAssembly text (`.wat`) into the binary format with wabt's wat2wasm (the npm build of the
 * WebAssembly Binary Toolkit), validating the module. No names section: the bytes are what runs.
 * @param {string} file path of the .wat
 * @returns {Promise<Uint8Array>}
 */
export async function assembleWat(file) {
  const wabt = await wabtInit();
  const module = wabt.parseWat(file, await readFile(file, 'utf8'), FEATURES);
  try {
    module.resolveNames();
    module.validate();
    return Uint8Array.from(module.toBinary({ log: false, write_debug_names: false }).buffer);
  } finally {
    module.destroy();
  }
}
