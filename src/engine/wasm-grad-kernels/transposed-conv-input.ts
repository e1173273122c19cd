import type { ConvGeometry } from './conv-geometry.js';
import type { TensorInfo, WasmKernelScope } from './wasm-kernel-scope.js';

/**
 * Prepares dy for an input gradient computed as a stride-1 conv with the 180°-rotated filter: returns
 * dy zero-upsampled by the stride (s-1 zeros after every row and column: reshape to [N,Ho,1,Wo,1,C],
 * pad, reshape back) and the explicit padding that makes that conv's output exactly [N,H,W,...]:
 * top = kh-1-padTop, bottom = H+kh-1-Ho*s-top (cropping trailing zeros when negative).
 */
export function upsampleForInputGradient(
  scope: WasmKernelScope, dy: TensorInfo, g: ConvGeometry, kernelName: string,
): { up: TensorInfo; pad: [[0, 0], [number, number], [number, number], [0, 0]] } {
  const channels = dy.shape[3]!;
  const kh = g.filterHeight;
  const kw = g.filterWidth;
  let up = dy;
  let upHeight = g.outHeight;
  let upWidth = g.outWidth;
  if (g.strideHeight > 1 || g.strideWidth > 1) {
    const dy6 = scope.reshape(dy, [g.batch, g.outHeight, 1, g.outWidth, 1, channels]);
    const padded = scope.run('PadV2', { x: dy6 }, {
      paddings: [[0, 0], [0, 0], [0, g.strideHeight - 1], [0, 0], [0, g.strideWidth - 1], [0, 0]], constantValue: 0,
    });
    upHeight = g.outHeight * g.strideHeight;
    upWidth = g.outWidth * g.strideWidth;
    up = scope.reshape(padded, [g.batch, upHeight, upWidth, channels]);
  }
  const top = kh - 1 - g.padTop;
  const left = kw - 1 - g.padLeft;
  let bottom = g.inHeight + kh - 1 - upHeight - top;
  let right = g.inWidth + kw - 1 - upWidth - left;
  if (top < 0 || left < 0) {
    throw new Error(`${kernelName} on wasm (Graft's gradient kernels): padding larger than the filter is not supported. Received: padTop=${g.padTop}, padLeft=${g.padLeft}, filter ${kh}x${kw}`);
  }
  if (bottom < 0 || right < 0) {
    // Trailing zeros beyond what the output needs: crop them.
    upHeight += Math.min(bottom, 0);
    upWidth += Math.min(right, 0);
    up = scope.run('Slice', { x: up }, { begin: [0, 0, 0, 0], size: [g.batch, upHeight, upWidth, channels] });
    bottom = Math.max(bottom, 0);
    right = Math.max(right, 0);
  }
  return { up, pad: [[0, 0], [top, bottom], [left, right], [0, 0]] };
}
