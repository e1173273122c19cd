import { GraftError } from '../core/errors.js';
import { graphOf, int64ToNumber, type ModelProto } from './onnx-model.js';

/** The batch size the model's first input declares: a number when fixed, undefined when symbolic or absent. */
export function fixedInputBatch(model: ModelProto): number | undefined {
  const dim = graphOf(model).input?.[0]?.type?.tensorType?.shape?.dim?.[0];
  if (!dim || dim.dimParam) return undefined;
  const value = int64ToNumber(dim.dimValue);
  return value > 0 ? value : undefined;
}

/**
 * Fine-tuning trains on batches of cut activations, so the backbone must take any batch size. A model exported
 * with batch 1 usually hard-codes it in Reshape nodes too, so it is refused here with a clear message rather
 * than failing in onnxruntime ("Got invalid dimensions") half-way through.
 *
 * @throws GraftError `UNSUPPORTED_MODEL` when the first input's batch is fixed.
 */
export function requireDynamicBatch(model: ModelProto, source: string): void {
  const batch = fixedInputBatch(model);
  if (batch === undefined) return;
  throw new GraftError('UNSUPPORTED_MODEL', `Cannot fine-tune ${source}: its input has the batch size fixed at ${batch}, and fine-tuning runs batches.`, {
    hint: 'train the head alone (without --fine-tune), which runs such a model one image at a time, or export the model with a dynamic batch dimension',
  });
}
