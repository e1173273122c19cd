import * as tf from '@tensorflow/tfjs';
import type { OnnxGraphBuilder, OnnxValue } from '../onnx/graph-builder.js';
import { pair, requireChannelsLast, single, str, unsupported, weight, weightData, type Emitter, type Shape } from './layer-emitter-support.js';
import { MERGE_EMITTERS } from './merge-emitters.js';

/**
 * ONNX emitters for the standard Keras layers image models use (one function per layer class; the merge layers in
 * merge-emitters.ts). Each takes the layer's input values and returns its output value; `outShape` is the Keras output
 * shape tfjs inferred, used to check our arithmetic and to carry static shapes forward.
 */
const EMITTERS: Readonly<Record<string, Emitter>> = {
  InputLayer: (_b, _layer, inputs) => single(inputs),
  Dropout: (_b, _layer, inputs) => single(inputs), // inference: identity
  Conv2D: emitConv,
  DepthwiseConv2D: emitConv,
  BatchNormalization: emitBatchNorm,
  ReLU: emitRelu,
  Activation: (b, layer, inputs) => emitActivation(b, layer, single(inputs), str(layer, 'activation')),
  Softmax: emitSoftmaxLayer,
  ZeroPadding2D: emitZeroPadding,
  Cropping2D: emitCropping,
  AveragePooling2D: emitPool,
  MaxPooling2D: emitPool,
  GlobalAveragePooling2D: emitGlobalPool,
  GlobalMaxPooling2D: emitGlobalPool,
  Flatten: (b, layer, inputs, outShape) => ({
    name: b.node('Flatten', [b.toKeras(single(inputs)).name], layer.name, { axis: { int: 1 } }),
    shape: outShape,
    isNchw: false,
  }),
  Reshape: emitReshape,
  Dense: emitDense,
  LeakyReLU: (b, layer, inputs) => {
    const x = single(inputs);
    return { ...x, name: b.node('LeakyRelu', [x.name], layer.name, { alpha: { float: Number(layer.getConfig()['alpha'] ?? 0.3) } }) };
  },
  ELU: (b, layer, inputs) => {
    const x = single(inputs);
    return { ...x, name: b.node('Elu', [x.name], layer.name, { alpha: { float: Number(layer.getConfig()['alpha'] ?? 1) } }) };
  },
  SeparableConv2D: emitSeparableConv,
  Rescaling: emitRescaling,
  Permute: emitPermute,
  UpSampling2D: emitUpSampling,
  ...MERGE_EMITTERS,
};

/** Names of the Keras layer classes the exporter supports (for messages and docs). */
export const SUPPORTED_LAYER_CLASSES: readonly string[] = Object.keys(EMITTERS);

/**
 * Emits one layer.
 * @throws GraftError `UNSUPPORTED_MODEL` naming the layer class and name when it is not supported.
 */
export function emitLayer(b: OnnxGraphBuilder, layer: tf.layers.Layer, inputs: readonly OnnxValue[], outShape: Shape): OnnxValue {
  const emitter = EMITTERS[layer.getClassName()];
  if (!emitter) throw unsupported(layer, `layer class is not supported (supported: ${SUPPORTED_LAYER_CLASSES.join(', ')})`);
  return emitter(b, layer, inputs, outShape);
}

function emitConv(b: OnnxGraphBuilder, layer: tf.layers.Layer, inputs: readonly OnnxValue[], outShape: Shape): OnnxValue {
  requireChannelsLast(layer);
  const x = b.toNchw(single(inputs));
  const isDepthwise = layer.getClassName() === 'DepthwiseConv2D';
  const kernel = weight(layer, isDepthwise ? 'depthwise_kernel' : 'kernel');
  const [kh, kw, inChannels, outPerGroup] = kernel.shape as [number, number, number, number];
  const dilations = pair(layer, 'dilationRate');
  const strides = pair(layer, 'strides');
  const kernelName = b.ownedFloatConst(
    layer,
    `${layer.name}/kernel`,
    // ONNX wants [out, in/group, kh, kw]; a depthwise output channel is c * multiplier + m, as in TF.
    isDepthwise ? [inChannels * outPerGroup, 1, kh, kw] : [outPerGroup, inChannels, kh, kw],
    () => tf.tidy(() => tf.transpose(kernel, isDepthwise ? [2, 3, 0, 1] : [3, 2, 0, 1]).dataSync() as Float32Array),
  );
  const convInputs = [x.name, kernelName];
  if (layer.getConfig()['useBias'] === true) convInputs.push(b.ownedFloatConst(layer, `${layer.name}/bias`, [outChannels(kernel, isDepthwise)], () => weightData(layer, 'bias')));
  const name = b.node('Conv', convInputs, layer.name, {
    kernel_shape: { ints: [kh, kw] },
    strides: { ints: strides },
    dilations: { ints: dilations },
    pads: { ints: explicitPads(layer, x.shape, [kh, kw], strides, dilations) },
    group: { int: isDepthwise ? inChannels : 1 },
  });
  return emitActivation(b, layer, { name, shape: outShape, isNchw: true }, str(layer, 'activation'));
}

function outChannels(kernel: tf.Tensor, isDepthwise: boolean): number {
  const [, , inChannels, last] = kernel.shape as number[];
  return isDepthwise ? inChannels! * last! : last!;
}

/**
 * ONNX pads [top, left, bottom, right]. TF's 'same' pads the total (k-1)*d+1 - overhang split with the
 * extra pixel at the bottom/right, which differs from SAME_LOWER and, for stride 2 on even sizes,
 * from what people expect: compute it from the static input size rather than trusting auto_pad.
 */
function explicitPads(layer: tf.layers.Layer, inShape: Shape, kernel: readonly number[], strides: readonly number[], dilations: readonly number[]): number[] {
  const padding = str(layer, 'padding');
  if (padding === 'valid') return [0, 0, 0, 0];
  if (padding !== 'same') throw unsupported(layer, `padding "${padding}" is not supported (only "same" and "valid")`);
  const before: number[] = [];
  const after: number[] = [];
  for (let axis = 0; axis < 2; axis++) {
    const size = inShape[axis + 1];
    if (size === null || size === undefined) throw unsupported(layer, "'same' padding needs a static input height and width");
    const stride = strides[axis]!;
    const effective = (kernel[axis]! - 1) * dilations[axis]! + 1;
    const total = Math.max((Math.ceil(size / stride) - 1) * stride + effective - size, 0);
    before.push(Math.floor(total / 2));
    after.push(total - Math.floor(total / 2));
  }
  return [...before, ...after];
}

function emitBatchNorm(b: OnnxGraphBuilder, layer: tf.layers.Layer, inputs: readonly OnnxValue[], outShape: Shape): OnnxValue {
  const config = layer.getConfig();
  const input = single(inputs);
  const rank = input.shape.length;
  const axis = Number(config['axis']);
  if (!(rank === 4 || rank === 2) || !(axis === -1 || axis === rank - 1)) {
    throw unsupported(layer, `BatchNormalization over axis ${axis} of a rank-${rank} tensor is not supported (only the channel axis of 2-D or 4-D)`);
  }
  const x = b.toNchw(input);
  const mean = weightData(layer, 'moving_mean');
  const channels = mean.length;
  const gamma = () => (config['scale'] === false ? new Float32Array(channels).fill(1) : weightData(layer, 'gamma'));
  const beta = () => (config['center'] === false ? new Float32Array(channels) : weightData(layer, 'beta'));
  // The inference-mode op rather than folding by hand: ORT fuses it into the preceding Conv ('all'
  // optimisation), and keeping tfjs's (x - mean) * rsqrt(var + eps) * gamma + beta order keeps diffs ~1e-6.
  const name = b.node(
    'BatchNormalization',
    [
      x.name,
      b.ownedFloatConst(layer, `${layer.name}/gamma`, [channels], gamma),
      b.ownedFloatConst(layer, `${layer.name}/beta`, [channels], beta),
      b.ownedFloatConst(layer, `${layer.name}/moving_mean`, [channels], () => mean),
      b.ownedFloatConst(layer, `${layer.name}/moving_variance`, [channels], () => weightData(layer, 'moving_variance')),
    ],
    layer.name,
    { epsilon: { float: Number(config['epsilon'] ?? 1e-3) } },
  );
  return { name, shape: outShape, isNchw: x.isNchw };
}

function emitRelu(b: OnnxGraphBuilder, layer: tf.layers.Layer, inputs: readonly OnnxValue[]): OnnxValue {
  const config = layer.getConfig();
  for (const key of ['negativeSlope', 'threshold']) {
    if (config[key] !== undefined && config[key] !== null && config[key] !== 0) throw unsupported(layer, `ReLU with ${key}=${String(config[key])} is not supported`);
  }
  const maxValue = config['maxValue'];
  const x = single(inputs);
  if (maxValue === undefined || maxValue === null) return emitActivation(b, layer, x, 'relu');
  return clip(b, layer.name, x, 0, Number(maxValue));
}

/** Applies a Keras activation by name; 'linear' emits nothing. */
function emitActivation(b: OnnxGraphBuilder, layer: tf.layers.Layer, x: OnnxValue, activation: string): OnnxValue {
  const base = `${layer.name}/${activation}`;
  switch (activation) {
    case 'linear':
      return x;
    case 'relu6':
      return clip(b, base, x, 0, 6);
    case 'relu':
    case 'sigmoid':
    case 'tanh': {
      const op = { relu: 'Relu', sigmoid: 'Sigmoid', tanh: 'Tanh' }[activation];
      return { ...x, name: b.node(op, [x.name], base) };
    }
    case 'elu':
    case 'selu':
    case 'softplus':
    case 'softsign': {
      const op = { elu: 'Elu', selu: 'Selu', softplus: 'Softplus', softsign: 'Softsign' }[activation];
      return { ...x, name: b.node(op, [x.name], base) };
    }
    case 'swish': {
      // x * sigmoid(x), as tfjs and Keras define it (ONNX opset 13 has no Swish/SiLU op).
      const sigmoid = b.node('Sigmoid', [x.name], `${base}/sigmoid`);
      return { ...x, name: b.node('Mul', [x.name, sigmoid], base) };
    }
    case 'hardSigmoid':
    case 'hard_sigmoid':
      // tfjs (and Keras 2): clip(0.2 * x + 0.5, 0, 1). Keras 3 changed it to relu6(x + 3) / 6; tfjs has only the old one.
      return { ...x, name: b.node('HardSigmoid', [x.name], base, { alpha: { float: 0.2 }, beta: { float: 0.5 } }) };
    case 'hardSwish':
    case 'hard_swish': {
      // Keras: x * relu6(x + 3) / 6 = x * HardSigmoid(alpha 1/6, beta 0.5); HardSwish itself needs opset 14.
      const gate = b.node('HardSigmoid', [x.name], `${base}/gate`, { alpha: { float: 1 / 6 }, beta: { float: 0.5 } });
      return { ...x, name: b.node('Mul', [x.name, gate], base) };
    }
    case 'softmax': {
      // Keras' softmax is over the last (channel) axis, which is axis 1 while the value is NCHW.
      const axis = x.isNchw ? 1 : -1;
      return { ...x, name: b.node('Softmax', [x.name], base, { axis: { int: axis } }) };
    }
    default:
      throw unsupported(layer, `activation "${activation}" is not supported (only linear, relu, relu6, sigmoid, tanh, elu, selu, softplus, softsign, swish, hardSigmoid, hard_swish, softmax)`);
  }
}

function clip(b: OnnxGraphBuilder, base: string, x: OnnxValue, min: number, max: number): OnnxValue {
  // Opset 13 Clip takes min/max as scalar inputs, not attributes.
  const lo = b.floatConst(`${base}/min`, [], new Float32Array([min]));
  const hi = b.floatConst(`${base}/max`, [], new Float32Array([max]));
  return { ...x, name: b.node('Clip', [x.name, lo, hi], base) };
}

/** The Softmax layer: over its Keras axis (default the last), which is axis 1, 2 or 3 while a rank-4 value is NCHW. */
function emitSoftmaxLayer(b: OnnxGraphBuilder, layer: tf.layers.Layer, inputs: readonly OnnxValue[], outShape: Shape): OnnxValue {
  const x = single(inputs);
  const rank = x.shape.length;
  const configured = layer.getConfig()['axis'] ?? -1;
  const axis = typeof configured === 'number' && configured < 0 ? rank + configured : configured;
  if (typeof axis !== 'number' || !Number.isInteger(axis) || axis < 1 || axis >= rank) throw unsupported(layer, `Softmax axis ${JSON.stringify(configured)} of a rank-${rank} tensor is not supported (one axis, not the batch)`);
  const onnxAxis = x.isNchw && rank === 4 ? [0, 2, 3, 1][axis]! : axis;
  return { name: b.node('Softmax', [x.name], layer.name, { axis: { int: onnxAxis } }), shape: outShape, isNchw: x.isNchw };
}

/** SeparableConv2D = depthwise conv (strides, padding, dilation, depth multiplier) then a 1x1 pointwise conv with the bias. */
function emitSeparableConv(b: OnnxGraphBuilder, layer: tf.layers.Layer, inputs: readonly OnnxValue[], outShape: Shape): OnnxValue {
  requireChannelsLast(layer);
  const x = b.toNchw(single(inputs));
  const depthwise = weight(layer, 'depthwise_kernel');
  const pointwise = weight(layer, 'pointwise_kernel');
  const [kh, kw, inChannels, multiplier] = depthwise.shape as [number, number, number, number];
  const [, , midChannels, filters] = pointwise.shape as [number, number, number, number];
  const dilations = pair(layer, 'dilationRate');
  const strides = pair(layer, 'strides');
  const depthwiseName = b.node(
    'Conv',
    [x.name, b.ownedFloatConst(layer, `${layer.name}/depthwise_kernel`, [inChannels * multiplier, 1, kh, kw], () => tf.tidy(() => tf.transpose(depthwise, [2, 3, 0, 1]).dataSync() as Float32Array))],
    `${layer.name}/depthwise`,
    {
      kernel_shape: { ints: [kh, kw] },
      strides: { ints: strides },
      dilations: { ints: dilations },
      pads: { ints: explicitPads(layer, x.shape, [kh, kw], strides, dilations) },
      group: { int: inChannels },
    },
  );
  const pointwiseInputs = [depthwiseName, b.ownedFloatConst(layer, `${layer.name}/pointwise_kernel`, [filters, midChannels, 1, 1], () => tf.tidy(() => tf.transpose(pointwise, [3, 2, 0, 1]).dataSync() as Float32Array))];
  if (layer.getConfig()['useBias'] === true) pointwiseInputs.push(b.ownedFloatConst(layer, `${layer.name}/bias`, [filters], () => weightData(layer, 'bias')));
  const name = b.node('Conv', pointwiseInputs, layer.name, { kernel_shape: { ints: [1, 1] } });
  return emitActivation(b, layer, { name, shape: outShape, isNchw: true }, str(layer, 'activation'));
}

/** Rescaling: x * scale + offset (scalars in tfjs, so the layout does not matter). */
function emitRescaling(b: OnnxGraphBuilder, layer: tf.layers.Layer, inputs: readonly OnnxValue[], outShape: Shape): OnnxValue {
  const x = single(inputs);
  const config = layer.getConfig();
  const scale = config['scale'];
  const offset = config['offset'] ?? 0;
  if (typeof scale !== 'number' || typeof offset !== 'number') throw unsupported(layer, `Rescaling scale ${JSON.stringify(scale)} / offset ${JSON.stringify(offset)} must be numbers`);
  const scaled = b.node('Mul', [x.name, b.floatConst(`${layer.name}/scale`, [], Float32Array.of(scale))], `${layer.name}/mul`);
  const name = b.node('Add', [scaled, b.floatConst(`${layer.name}/offset`, [], Float32Array.of(offset))], layer.name);
  return { name, shape: outShape, isNchw: x.isNchw };
}

/** Permute(dims) is a Transpose in Keras order; `dims` is 1-based and excludes the batch axis. */
function emitPermute(b: OnnxGraphBuilder, layer: tf.layers.Layer, inputs: readonly OnnxValue[], outShape: Shape): OnnxValue {
  const x = b.toKeras(single(inputs));
  const dims = layer.getConfig()['dims'];
  if (!Array.isArray(dims) || dims.length !== x.shape.length - 1) throw unsupported(layer, `Permute dims ${JSON.stringify(dims)} do not fit a rank-${x.shape.length} input`);
  return { name: b.node('Transpose', [x.name], layer.name, { perm: { ints: [0, ...dims.map(Number)] } }), shape: outShape, isNchw: false };
}

/**
 * UpSampling2D by an integer factor: ONNX Resize with 'asymmetric' coordinates, which is what tfjs's
 * resizeNearestNeighbor / resizeBilinear do without alignCorners or halfPixelCenters.
 */
function emitUpSampling(b: OnnxGraphBuilder, layer: tf.layers.Layer, inputs: readonly OnnxValue[], outShape: Shape): OnnxValue {
  requireChannelsLast(layer);
  const x = b.toNchw(single(inputs));
  const [sh, sw] = pair(layer, 'size');
  const interpolation = str(layer, 'interpolation');
  if (interpolation !== 'nearest' && interpolation !== 'bilinear') throw unsupported(layer, `interpolation "${interpolation}" is not supported (only nearest and bilinear)`);
  const scales = b.floatConst(`${layer.name}/scales`, [4], Float32Array.of(1, 1, sh!, sw!));
  const attributes = {
    mode: { string: interpolation === 'nearest' ? 'nearest' : 'linear' },
    coordinate_transformation_mode: { string: 'asymmetric' },
    ...(interpolation === 'nearest' ? { nearest_mode: { string: 'floor' } } : {}),
  };
  // Opset 13 Resize: inputs X, roi (unused, empty name), scales.
  return { name: b.node('Resize', [x.name, '', scales], layer.name, attributes), shape: outShape, isNchw: true };
}

function emitZeroPadding(b: OnnxGraphBuilder, layer: tf.layers.Layer, inputs: readonly OnnxValue[], outShape: Shape): OnnxValue {
  requireChannelsLast(layer);
  const x = b.toNchw(single(inputs));
  const [[top, bottom], [left, right]] = normalisePadding(layer, 'padding');
  const pads = b.int64Const(`${layer.name}/pads`, [0, 0, top, left, 0, 0, bottom, right]);
  return { name: b.node('Pad', [x.name, pads], layer.name, { mode: { string: 'constant' } }), shape: outShape, isNchw: true };
}

/**
 * Cropping2D: a Slice of H and W on the NCHW value. Ends count from the far edge (-bottom, -right), so no static size
 * is needed; a side cropped by 0 ends at the edge.
 */
function emitCropping(b: OnnxGraphBuilder, layer: tf.layers.Layer, inputs: readonly OnnxValue[], outShape: Shape): OnnxValue {
  requireChannelsLast(layer);
  const x = b.toNchw(single(inputs));
  const [[top, bottom], [left, right]] = normalisePadding(layer, 'cropping');
  const toEdge = Number.MAX_SAFE_INTEGER; // ONNX Slice clamps ends past the edge
  const starts = b.int64Const(`${layer.name}/starts`, [top, left]);
  const ends = b.int64Const(`${layer.name}/ends`, [bottom > 0 ? -bottom : toEdge, right > 0 ? -right : toEdge]);
  const axes = b.int64Const(`${layer.name}/axes`, [2, 3]);
  return { name: b.node('Slice', [x.name, starts, ends, axes], layer.name), shape: outShape, isNchw: true };
}

/** ZeroPadding2D's `padding` and Cropping2D's `cropping`: n, [h, w] or [[top, bottom], [left, right]]. */
function normalisePadding(layer: tf.layers.Layer, key: 'padding' | 'cropping'): [[number, number], [number, number]] {
  const value: unknown = layer.getConfig()[key];
  if (typeof value === 'number') return [[value, value], [value, value]];
  if (Array.isArray(value) && value.length === 2) {
    const [h, w] = value as unknown[];
    if (typeof h === 'number' && typeof w === 'number') return [[h, h], [w, w]];
    if (Array.isArray(h) && Array.isArray(w)) return [[Number(h[0]), Number(h[1])], [Number(w[0]), Number(w[1])]];
  }
  throw unsupported(layer, `${key} ${JSON.stringify(value)} is not understood`);
}

function emitPool(b: OnnxGraphBuilder, layer: tf.layers.Layer, inputs: readonly OnnxValue[], outShape: Shape): OnnxValue {
  requireChannelsLast(layer);
  const x = b.toNchw(single(inputs));
  const poolSize = pair(layer, 'poolSize');
  const config = layer.getConfig();
  const strides = config['strides'] === null || config['strides'] === undefined ? poolSize : pair(layer, 'strides');
  const isMax = layer.getClassName() === 'MaxPooling2D';
  const attributes = {
    kernel_shape: { ints: poolSize },
    strides: { ints: strides },
    pads: { ints: explicitPads(layer, x.shape, poolSize, strides, [1, 1]) },
    // TF's 'same' average pooling divides by the number of real pixels under the window.
    ...(isMax ? {} : { count_include_pad: { int: 0 } }),
  };
  return { name: b.node(isMax ? 'MaxPool' : 'AveragePool', [x.name], layer.name, attributes), shape: outShape, isNchw: true };
}

function emitGlobalPool(b: OnnxGraphBuilder, layer: tf.layers.Layer, inputs: readonly OnnxValue[], outShape: Shape): OnnxValue {
  requireChannelsLast(layer);
  const x = b.toNchw(single(inputs));
  const op = layer.getClassName() === 'GlobalMaxPooling2D' ? 'GlobalMaxPool' : 'GlobalAveragePool';
  const pooled = b.node(op, [x.name], `${layer.name}/pool`); // [N, C, 1, 1]
  if (outShape.length === 4) return { name: pooled, shape: outShape, isNchw: true }; // keepdims
  return { name: b.node('Flatten', [pooled], layer.name, { axis: { int: 1 } }), shape: outShape, isNchw: false };
}

function emitReshape(b: OnnxGraphBuilder, layer: tf.layers.Layer, inputs: readonly OnnxValue[], outShape: Shape): OnnxValue {
  const x = b.toKeras(single(inputs));
  const target = layer.getConfig()['targetShape'];
  if (!Array.isArray(target) || target.some((d) => typeof d !== 'number' || d === 0)) {
    throw unsupported(layer, `Reshape targetShape ${JSON.stringify(target)} is not supported`);
  }
  // 0 copies the batch dimension from the input (allowzero defaults to 0 in opset 14+, and is absent in 13).
  const shape = b.int64Const(`${layer.name}/shape`, [0, ...(target as number[])]);
  return { name: b.node('Reshape', [x.name, shape], layer.name), shape: outShape, isNchw: false };
}

function emitDense(b: OnnxGraphBuilder, layer: tf.layers.Layer, inputs: readonly OnnxValue[], outShape: Shape): OnnxValue {
  const x = b.toKeras(single(inputs));
  const kernel = weight(layer, 'kernel');
  const [inUnits, units] = kernel.shape as [number, number];
  const w = b.ownedFloatConst(layer, `${layer.name}/kernel`, [inUnits, units], () => kernel.dataSync() as Float32Array);
  let name = b.node('MatMul', [x.name, w], `${layer.name}/matmul`);
  if (layer.getConfig()['useBias'] === true) name = b.node('Add', [name, b.ownedFloatConst(layer, `${layer.name}/bias`, [units], () => weightData(layer, 'bias'))], layer.name);
  return emitActivation(b, layer, { name, shape: outShape, isNchw: false }, str(layer, 'activation'));
}
