import { ONNX_INT8, ONNX_UINT8 } from '../onnx/onnx-model.js';
import { intAttr } from '../onnx/attributes.js';
import { dequantizeConstant } from '../onnx-to-tfjs/ops-quant.js';
import { hostNumbers, type HostValue } from '../onnx-to-tfjs/values.js';
import { binaryValue, clampValue, convLayer, denseLayer, globalPool, linearThenClamp, type BinaryOp, type LayerConverter } from './layer-ops.js';
import type { LayerValue } from './layer-values.js';
import type { NodeConversion } from './node-context.js';

/*
 * Quantized operators as float Keras layers, with onnx-to-tfjs's 'float' semantics (ops-quant.ts): weights
 * and biases are dequantized once; activations carry their real values, not rounded to the grid; each
 * quantized output keeps its representable range [(qMin - zp) * s, (qMax - zp) * s] as a clamp, because
 * quantizers fold Relu/Relu6 into it. A range that starts at 0 (uint8, zero point 0: a folded Relu or Relu6)
 * becomes ReLU(max_value=(255 - 0) * s); other ranges become exact Maximum/Minimum layers (see clampValue).
 */

/** The real range of a per-tensor quantized activation (scale at `scaleIndex`, zero point at `zeroPointIndex`). */
function quantRange(nc: NodeConversion, scaleIndex: number, zeroPointIndex: number): { lower: number; upper: number } {
  const scale = nc.ctx.requireConstant(scaleIndex, 'scale');
  if (scale.data.length !== 1) nc.fail('per-axis quantization of activations is not supported');
  const zeroPoint = nc.ctx.hasInput(zeroPointIndex) ? nc.ctx.requireConstant(zeroPointIndex, 'zero point') : undefined;
  const dataType = zeroPoint?.dataType ?? ONNX_UINT8;
  const [qMin, qMax] = dataType === ONNX_UINT8 ? [0, 255] : dataType === ONNX_INT8 ? [-128, 127] : nc.fail(`quantized type ${dataType} is not supported (uint8 and int8 are)`);
  const s = Number(scale.data[0]);
  const zp = zeroPoint ? Number(zeroPoint.data[0]) : 0;
  return { lower: (qMin - zp) * s, upper: (qMax - zp) * s };
}

function dequantized(value: HostValue): Float32Array {
  return value.data instanceof Float32Array ? value.data : Float32Array.from(value.data, Number);
}

/** QuantizeLinear of a computed tensor: the clamp to its range (constants are folded by the onnx-to-tfjs operator). */
export const convertQuantizeLinear: LayerConverter = (nc) => {
  const range = quantRange(nc, 1, 2);
  return [clampValue(nc, nc.symbolicInput(0), range.lower, range.upper)];
};

/** DequantizeLinear of a computed tensor: it already holds real values. */
export const convertDequantizeLinear: LayerConverter = (nc) => [nc.symbolicInput(0)];

/** QLinearConv(x, xs, xzp, w, ws, wzp, ys, yzp, B): Conv2D/DepthwiseConv2D with dequantized weights, bias B * xs * ws, clamped to y's range. */
export const convertQLinearConv: LayerConverter = (nc) => {
  const x = nc.symbolicInput(0);
  const weightScale = nc.ctx.requireConstant(4, 'weight scale');
  const weight = dequantizeConstant(nc.ctx.requireConstant(3, 'weight'), weightScale, nc.ctx.constant(5), 0, nc.ctx);
  let bias: Float32Array | undefined;
  if (nc.ctx.hasInput(8)) {
    const b = nc.ctx.requireConstant(8, 'bias');
    const xScale = Number(nc.ctx.requireConstant(1, 'input scale').data[0]);
    const wScales = hostNumbers(weightScale);
    bias = Float32Array.from(b.data, (v, i) => Number(v) * xScale * (wScales[i] ?? wScales[0]!));
  }
  return [linearThenClamp(nc, quantRange(nc, 6, 7), () => convLayer(nc, x, weight, bias))];
};

/** QLinearMatMul(a, as, azp, b, bs, bzp, ys, yzp) with a constant b: Dense without bias, clamped to y's range. */
export const convertQLinearMatMul: LayerConverter = (nc) => {
  const x = nc.symbolicInput(0);
  const weight = dequantizeConstant(nc.ctx.requireConstant(3, 'weight'), nc.ctx.requireConstant(4, 'weight scale'), nc.ctx.constant(5), -1, nc.ctx);
  if (weight.dims.length !== 2) nc.fail(`weight shape [${weight.dims.join(', ')}] is not 2-D`);
  const [k, m] = weight.dims as [number, number];
  return [linearThenClamp(nc, quantRange(nc, 6, 7), () => denseLayer(nc, x, dequantized(weight), [k, m], undefined))];
};

/** QLinearAdd / QLinearMul (com.microsoft): A, As, Azp, B, Bs, Bzp, Cs, Czp; constant operands are dequantized. */
function qLinearBinary(op: BinaryOp): LayerConverter {
  return (nc: NodeConversion) => {
    const operand = (index: number): LayerValue => {
      const value = nc.inputs[index];
      if (!value) nc.fail(`operand ${index} ("${nc.ctx.inputName(index)}") has no value`);
      if (value.kind === 'symbolic') return value;
      return dequantizeConstant(value, nc.ctx.requireConstant(index + 1, 'scale'), nc.ctx.constant(index + 2), 0, nc.ctx);
    };
    const range = quantRange(nc, 6, 7);
    return [clampValue(nc, binaryValue(nc, op, operand(0), operand(3)), range.lower, range.upper)];
  };
}

export const convertQLinearAdd = qLinearBinary('Add');
export const convertQLinearMul = qLinearBinary('Mul');

/** QLinearGlobalAveragePool (com.microsoft): x, xs, xzp, ys, yzp; NCHW (channels_last 0) only. */
export const convertQLinearGlobalAveragePool: LayerConverter = (nc) => {
  if (intAttr(nc.node, 'channels_last', 0) === 1) nc.fail('channels_last=1 is not supported');
  const [pooled] = globalPool('average')(nc);
  const range = quantRange(nc, 3, 4);
  return [clampValue(nc, pooled as Extract<LayerValue, { kind: 'symbolic' }>, range.lower, range.upper)];
};
