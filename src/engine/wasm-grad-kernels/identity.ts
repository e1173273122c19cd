import type * as tf from '@tensorflow/tfjs';
import type { TensorInfo } from './wasm-kernel-scope.js';

/** A TensorInfo sharing `x`'s data (the backend's refcount frees it once both are gone). */
function share(backend: tf.KernelBackend, x: TensorInfo): TensorInfo {
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

/**
 * Identity for wasm that shares its input's data, as the cpu backend's does, instead of copying it. tfjs runs
 * Identity for every tensor it saves for the backward pass (engine.saveTensorsForBackwardMode clones):
 * ~600 full-size copies per MobileNetV2 training step. Tensors are immutable (a Variable's assign swaps its
 * data id), so sharing is safe.
 */
export function makeIdentityKernel(fallback: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    if (x.dtype === 'string') return fallback(args);
    return share(args.backend as tf.KernelBackend, x);
  };
}

/**
 * Cast for wasm that shares the data when the dtype does not change; wasm's kernel copies it. tfjs's
 * gradients cast to float32 what already is (Multiply's: dy * cast(b, 'float32'), the batch-norm-as-affine
 * gradient of every imported BatchNormalization). Real conversions go to `fallback`.
 */
export function makeCastKernel(fallback: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { dtype } = args.attrs as { dtype: tf.DataType };
    if (x.dtype !== dtype || dtype === 'string') return fallback(args);
    return share(args.backend as tf.KernelBackend, x);
  };
}
