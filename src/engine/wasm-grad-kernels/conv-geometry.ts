import * as tf from '@tensorflow/tfjs';

/** Padding as the conv kernels receive it: 'same' | 'valid' | a number | explicit NHWC pairs. */
export type ConvPad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;

/** The geometry every gradient kernel here needs, from tfjs's own computeConv2DInfo. */
export interface ConvGeometry {
  readonly batch: number;
  readonly inHeight: number;
  readonly inWidth: number;
  readonly inChannels: number;
  readonly outHeight: number;
  readonly outWidth: number;
  readonly filterHeight: number;
  readonly filterWidth: number;
  readonly strideHeight: number;
  readonly strideWidth: number;
  readonly padTop: number;
  readonly padBottom: number;
  readonly padLeft: number;
  readonly padRight: number;
}

/**
 * Computes the conv geometry and rejects what these kernels do not implement (dilation > 1, NCHW),
 * echoing the value received.
 */
export function convGeometry(
  kernelName: string,
  inShape: readonly number[],
  filterShape: readonly number[],
  strides: number | [number, number],
  pad: ConvPad,
  options: { dilations?: number | [number, number]; dimRoundingMode?: 'floor' | 'round' | 'ceil'; depthwise: boolean; dataFormat?: string },
): ConvGeometry {
  const dilations = options.dilations ?? 1;
  const [dh, dw] = typeof dilations === 'number' ? [dilations, dilations] : dilations;
  if (dh !== 1 || dw !== 1) {
    throw new Error(`${kernelName} on wasm (Graft's gradient kernels) supports dilation 1 only. Received: dilations=${JSON.stringify(dilations)}`);
  }
  if (options.dataFormat !== undefined && options.dataFormat !== 'NHWC' && options.dataFormat !== 'channelsLast') {
    throw new Error(`${kernelName} on wasm (Graft's gradient kernels) supports NHWC only. Received: dataFormat=${options.dataFormat}`);
  }
  const info = tf.backend_util.computeConv2DInfo(
    inShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    1,
    pad,
    options.dimRoundingMode,
    options.depthwise,
  );
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    padTop: info.padInfo.top,
    padBottom: info.padInfo.bottom,
    padLeft: info.padInfo.left,
    padRight: info.padInfo.right,
  };
}

/** The attributes tfjs passes to every conv backprop kernel; each kernel adds the shape it must produce. */
export interface ConvBackpropAttrs {
  strides: number | [number, number];
  pad: ConvPad;
  dilations?: number | [number, number];
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** Attributes of the filter-gradient kernels (Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropFilter). */
export interface FilterGradAttrs extends ConvBackpropAttrs {
  filterShape: [number, number, number, number];
}
