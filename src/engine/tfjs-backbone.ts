import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../core/errors.js';
import { disposeLayersModel } from '../readers/dispose-layers-model.js';
import type { Backbone, BackboneInfo } from './backbone.js';

/**
 * A frozen TF.js layers backbone run on the active tfjs backend (wasm; see `ensureTfjsBackend`).
 *
 * This is the slow path (18-50 img/s on wasm vs 190-240 for ORT, ARCHITECTURE.md): Graft uses it to check
 * the ONNX export and where a model must stay in tfjs. Input is NHWC, as TF.js models expect.
 */
export class TfjsBackbone implements Backbone {
  readonly info: BackboneInfo;
  private model: tf.LayersModel | undefined;

  private constructor(model: tf.LayersModel, info: BackboneInfo) {
    this.model = model;
    this.info = info;
  }

  /**
   * Wraps a loaded model (typically `truncateAt(model, info.featureOutput)`).
   * @throws GraftError `INVALID_CONFIG` when the model's input is not [N, size, size, 3] NHWC for
   *   `info.preprocessing`, or its output is not `info.featureDim` values per image.
   */
  static create(model: tf.LayersModel, info: BackboneInfo): TfjsBackbone {
    const { inputSize, layout } = info.preprocessing;
    const inputShape = model.inputs[0]?.shape ?? [];
    const [, h, w, c] = inputShape;
    if (model.inputs.length !== 1 || layout !== 'nhwc' || (h !== null && h !== inputSize) || (w !== null && w !== inputSize) || c !== 3) {
      throw new GraftError(
        'INVALID_CONFIG',
        `Backbone "${info.name}" takes ${JSON.stringify(inputShape)} but its preprocessing says ${inputSize}x${inputSize}x3 ${layout}.`,
        { hint: 'TF.js models are NHWC: use layout "nhwc" and the input size the model was built for' },
      );
    }
    const outShape = model.outputs[0]?.shape ?? [];
    const dim = outShape.slice(1).reduce<number>((a, b) => a * (b ?? Number.NaN), 1);
    if (model.outputs.length !== 1 || dim !== info.featureDim) {
      throw new GraftError('INVALID_CONFIG', `Backbone "${info.name}" outputs ${JSON.stringify(outShape)}, not ${info.featureDim} features per image.`, {
        hint: 'truncate the model at the feature layer (truncateAt) and record its output size as featureDim',
      });
    }
    return new TfjsBackbone(model, info);
  }

  async embed(input: Float32Array, count: number): Promise<Float32Array> {
    const model = this.model;
    if (model === undefined) throw new GraftError('INTERNAL', `Backbone "${this.info.name}" was used after dispose().`);
    const size = this.info.preprocessing.inputSize;
    if (!Number.isInteger(count) || count < 1 || input.length !== count * size * size * 3) {
      throw new RangeError(`embed() needs count * ${size} * ${size} * 3 floats. Received: ${input.length} floats for count=${count}`);
    }
    const output = tf.tidy(() => {
      const x = tf.tensor4d(input, [count, size, size, 3]);
      const y = model.predict(x) as tf.Tensor;
      return y.reshape([count, this.info.featureDim]);
    });
    try {
      // data() rather than dataSync(): lets other work (decoding) run while the backend finishes.
      return (await output.data()) as Float32Array;
    } finally {
      output.dispose();
    }
  }

  async dispose(): Promise<void> {
    if (this.model) disposeLayersModel(this.model);
    this.model = undefined;
  }
}
