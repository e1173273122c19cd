import type * as tf from '@tensorflow/tfjs';
import type { ConvGeometry } from './conv-geometry.js';
import type { TensorInfo, WasmKernelScope } from './wasm-kernel-scope.js';

/**
 * The kh*kw shifted, strided views of the padded input that a conv's taps see, each [N, Ho, Wo, C].
 *
 * Tap (i, j) is `xPadded[:, i : i + s*(Ho-1)+1 : s, j : ..., :]`, so tap t = i*kw + j matches the
 * filter's [kh, kw, ...] layout. A 1x1 stride-1 unpadded conv returns x itself (no copy).
 */
export function extractTaps(scope: WasmKernelScope, x: TensorInfo, geometry: ConvGeometry): TensorInfo[] {
  const g = geometry;
  const isIdentity = g.filterHeight === 1 && g.filterWidth === 1 && g.strideHeight === 1 && g.strideWidth === 1
    && g.outHeight === g.inHeight && g.outWidth === g.inWidth && g.padTop === 0 && g.padLeft === 0;
  if (isIdentity) return [x];
  const hasPad = g.padTop + g.padBottom + g.padLeft + g.padRight > 0;
  const padded = hasPad
    ? scope.run('PadV2', { x }, { paddings: [[0, 0], [g.padTop, g.padBottom], [g.padLeft, g.padRight], [0, 0]], constantValue: 0 })
    : x;
  const taps: TensorInfo[] = [];
  for (let i = 0; i < g.filterHeight; i++) {
    for (let j = 0; j < g.filterWidth; j++) {
      const end = [g.batch, i + g.strideHeight * (g.outHeight - 1) + 1, j + g.strideWidth * (g.outWidth - 1) + 1, g.inChannels];
      if (g.strideHeight === 1 && g.strideWidth === 1) {
        // Slice is a plain strided copy; cheaper than StridedSlice's general path.
        taps.push(scope.run('Slice', { x: padded }, { begin: [0, i, j, 0], size: [g.batch, g.outHeight, g.outWidth, g.inChannels] }));
      } else {
        taps.push(scope.run('StridedSlice', { x: padded }, {
          begin: [0, i, j, 0], end, strides: [1, g.strideHeight, g.strideWidth, 1],
          beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0,
        }));
      }
    }
  }
  return taps;
}

/** Concatenates NHWC tensors along channels (wasm's Concat takes its inputs as an array). */
export function concatChannels(scope: WasmKernelScope, parts: TensorInfo[]): TensorInfo {
  return scope.run('Concat', parts as unknown as tf.NamedTensorInfoMap, { axis: 3 });
}

/**
 * im2col in one XNNPACK call: the patches of x as [N, Ho, Wo, C*kh*kw], channel-major (index c*T + t,
 * with tap t = i*kw + j).
 *
 * A depthwise conv with channel multiplier T = kh*kw and a one-hot filter (filter[i,j,c,t] = 1 when
 * t = i*kw + j) copies tap t of channel c to output channel c*T + t, exactly (x*1 plus zeros), with the
 * forward conv's own strides and padding. Measured for MobileNetV2's first conv ([8,225,225,3], 3x3,
 * stride 2): one StridedSlice per tap costs 44 ms and the channel Concat 50 ms; this avoids both.
 */
export function extractPatchesChannelMajor(scope: WasmKernelScope, x: TensorInfo, geometry: ConvGeometry): TensorInfo {
  const g = geometry;
  const taps = g.filterHeight * g.filterWidth;
  const oneHot = new Float32Array(taps * g.inChannels * taps);
  for (let t = 0; t < taps; t++) {
    for (let c = 0; c < g.inChannels; c++) oneHot[(t * g.inChannels + c) * taps + t] = 1;
  }
  const filter = scope.constant(oneHot, [g.filterHeight, g.filterWidth, g.inChannels, taps]);
  return scope.run('DepthwiseConv2dNative', { x, filter }, {
    strides: [g.strideHeight, g.strideWidth], dilations: [1, 1],
    pad: [[0, 0], [g.padTop, g.padBottom], [g.padLeft, g.padRight], [0, 0]],
  });
}
