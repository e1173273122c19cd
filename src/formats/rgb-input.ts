import { GraftError } from '../core/errors.js';

/**
 * Graft feeds a backbone RGB images. One whose input takes another number of channels (a grayscale MNIST network) is
 * refused when it is opened, with its input shape, instead of failing inside onnxruntime at the first batch.
 */
export function checkRgbInput(channels: number | null | undefined, inputShape: readonly (number | null | undefined)[], source: string): void {
  if (typeof channels !== 'number' || channels === 3) return;
  const shape = inputShape.map((d) => (typeof d === 'number' && d > 0 ? d : 'N')).join(', ');
  throw new GraftError('UNSUPPORTED_MODEL', `${source} takes images with ${channels} channel${channels === 1 ? '' : 's'} (input [${shape}]); Graft feeds backbones RGB images (3 channels).`, {
    hint: 'use a backbone trained on RGB images, e.g. --backbone mobilenet_v2',
  });
}
