import { makeFloatInitializer, makeInt64Initializer, type TensorProto } from '../../src/onnx/onnx-model.js';

/** `count` seeded values in offset +- scale (a fixed LCG: the same graph weights in every test run). */
export function seeded(count: number, seed: number, scale = 0.5, offset = 0): Float32Array {
  const out = new Float32Array(count);
  let state = seed;
  for (let i = 0; i < count; i++) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    out[i] = offset + ((state / 2 ** 31) * 2 - 1) * scale;
  }
  return out;
}

/** Builders for the initializers of a hand-made ONNX test graph; each returns the name to wire into nodes. */
export function initializers(): {
  inits: TensorProto[];
  f: (name: string, dims: number[], seed: number, scale?: number, offset?: number) => string;
  i64: (name: string, values: number[], dims?: number[]) => string;
  scalar: (name: string, value: number) => string;
} {
  const inits: TensorProto[] = [];
  return {
    inits,
    f: (name, dims, seed, scale = 0.5, offset = 0) => {
      inits.push(makeFloatInitializer(name, dims, seeded(dims.reduce((a, b) => a * b, 1), seed, scale, offset)));
      return name;
    },
    i64: (name, values, dims = [values.length]) => {
      inits.push(makeInt64Initializer(name, dims, values));
      return name;
    },
    scalar: (name, value) => {
      inits.push(makeFloatInitializer(name, [], Float32Array.of(value)));
      return name;
    },
  };
}
