import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../core/errors.js';
import {
  initializerToFloat32,
  initializerToNumbers,
  ONNX_DOUBLE,
  ONNX_FLOAT,
  tensorDims,
  type TensorProto,
} from '../onnx/onnx-model.js';

/**
 * The two kinds of value that flow through an imported graph.
 *
 * - {@link HostValue}: a small array held in JS (shapes, axes, scales, zero points, folded constants).
 *   Shape arithmetic (Shape -> Gather -> Unsqueeze -> Concat -> Reshape in torchvision exports) runs on
 *   these in plain JS, so it costs no kernel launches and never needs an int64 tensor.
 * - {@link DeviceValue}: a float tf.Tensor. Rank-4 tensors may be stored NHWC (tfjs convolutions and
 *   pools are NHWC) while the value keeps ONNX (NCHW) semantics: every op that cares about axis order
 *   (Flatten, Reshape, Transpose, Gather, axes of Concat/ReduceMean/Pad) reads the ONNX view.
 *
 * Quantized activations are carried as their real (dequantized) float values: the import turns QLinear*
 * ops into float ops, so no device value ever holds integers.
 */
export type Value = HostValue | DeviceValue;

export interface HostValue {
  readonly kind: 'host';
  readonly dims: readonly number[];
  /** Row-major values; Float32Array for float tensors, number[] for integer ones. */
  readonly data: Float32Array | readonly number[];
  /** ONNX element type (ONNX_FLOAT, ONNX_INT64, ONNX_UINT8, ...). */
  readonly dataType: number;
}

export interface DeviceValue {
  readonly kind: 'device';
  readonly tensor: tf.Tensor;
  /** True when a rank-4 tensor is stored NHWC, i.e. `tensor` is the ONNX value transposed by [0, 2, 3, 1]. */
  readonly isNhwc: boolean;
}

/** ONNX NCHW -> stored NHWC. */
export const TO_NHWC = [0, 2, 3, 1] as const;
/** Stored NHWC -> ONNX NCHW. */
export const TO_NCHW = [0, 3, 1, 2] as const;

export function isFloatType(dataType: number): boolean {
  return dataType === ONNX_FLOAT || dataType === ONNX_DOUBLE;
}

/** An initializer as a host value (float types become Float32Array, integer types number[]). */
export function hostFromInitializer(tensor: TensorProto): HostValue {
  const dims = tensorDims(tensor);
  const dataType = tensor.dataType ?? 0;
  if (isFloatType(dataType)) return { kind: 'host', dims, data: initializerToFloat32(tensor), dataType: ONNX_FLOAT };
  return { kind: 'host', dims, data: initializerToNumbers(tensor), dataType };
}

export function hostValue(dims: readonly number[], data: Float32Array | readonly number[], dataType: number): HostValue {
  return { kind: 'host', dims, data, dataType };
}

export function device(tensor: tf.Tensor, isNhwc = false): DeviceValue {
  return { kind: 'device', tensor, isNhwc };
}

/** The value's shape in ONNX terms, whatever its storage. */
export function onnxShape(value: Value): number[] {
  if (value.kind === 'host') return [...value.dims];
  const s = value.tensor.shape;
  return value.isNhwc ? TO_NCHW.map((a) => s[a]!) : [...s];
}

export function rankOf(value: Value): number {
  return value.kind === 'host' ? value.dims.length : value.tensor.rank;
}

/** Host data as numbers (for shapes, axes, scalars). */
export function hostNumbers(value: HostValue): number[] {
  return Array.from(value.data);
}

/**
 * `tensor` transposed by `perm`, as a free reshape when the move only shifts size-1 axes (an
 * [N, C, 1, 1] pooled value is the same memory in NCHW and NHWC), as a real transpose otherwise.
 */
export function permute(tensor: tf.Tensor, perm: readonly number[]): tf.Tensor {
  if (perm.every((a, i) => a === i)) return tensor;
  const moved = perm.map((a) => tensor.shape[a]!);
  const nonUnitBefore = tensor.shape.map((_d, i) => i).filter((i) => tensor.shape[i] !== 1);
  const nonUnitAfter = perm.filter((a) => tensor.shape[a] !== 1);
  if (nonUnitBefore.every((a, i) => a === nonUnitAfter[i])) return tf.reshape(tensor, moved);
  return tf.transpose(tensor, [...perm]);
}

/** The ONNX-layout tensor of a value (host values become a float tensor). */
export function asOnnx(value: Value): tf.Tensor {
  if (value.kind === 'host') return hostToTensor(value);
  return value.isNhwc ? permute(value.tensor, TO_NCHW) : value.tensor;
}

/** The NHWC-stored tensor of a rank-4 value. */
export function asNhwc(value: Value, what: string): tf.Tensor4D {
  if (value.kind === 'device' && value.isNhwc) return value.tensor as tf.Tensor4D;
  const tensor = asOnnx(value);
  if (tensor.rank !== 4) {
    throw new GraftError('UNSUPPORTED_MODEL', `${what} needs a rank-4 [N, C, H, W] input. Received shape [${tensor.shape.join(', ')}].`);
  }
  return permute(tensor, TO_NHWC) as tf.Tensor4D;
}

/**
 * An operand of an elementwise op whose result is stored NHWC: its ONNX shape is padded to rank 4
 * (numpy broadcasting aligns trailing axes) and permuted like the NHWC operand, so a [C, 1, 1] constant
 * becomes [1, 1, 1, C].
 */
export function asNhwcOperand(value: Value): tf.Tensor {
  if (value.kind === 'device' && value.isNhwc) return value.tensor;
  const tensor = asOnnx(value);
  if (tensor.rank > 4) throw new GraftError('UNSUPPORTED_MODEL', `Cannot broadcast a rank-${tensor.rank} tensor against an image tensor.`);
  const padded = tensor.rank === 4 ? tensor : tf.reshape(tensor, [...new Array<number>(4 - tensor.rank).fill(1), ...tensor.shape]);
  return permute(padded, TO_NHWC);
}

/** A host value as a tfjs tensor: float32, or int32 for integer types (ONNX int64 shapes fit). */
export function hostToTensor(value: HostValue): tf.Tensor {
  const dtype = isFloatType(value.dataType) ? 'float32' : 'int32';
  return tf.tensor(value.data instanceof Float32Array ? value.data : Array.from(value.data), [...value.dims], dtype);
}

/** Normalises a possibly negative axis for a tensor of `rank` dims. */
export function normaliseAxis(axis: number, rank: number, what: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    throw new GraftError('UNSUPPORTED_MODEL', `${what}: axis ${axis} is out of range for a rank-${rank} tensor.`);
  }
  return a;
}
