import type * as tf from '@tensorflow/tfjs';

/**
 * Frees every weight of a layers model Graft loaded. `model.dispose()` alone counts how often each layer was used and
 * frees a layer's weights only at zero, which a nested model never reaches: it kept every weight of Teachable
 * Machine's Keras file (263 tensors), 3 of its TF.js folder, and all of a nested model a feature cut reaches, in tfjs's
 * memory for the life of the process.
 */
export function disposeLayersModel(model: tf.LayersModel): void {
  // Read first: once the model is disposed its weights can no longer be read.
  const variables = model.weights.map((weight) => weight.read());
  model.dispose();
  for (const variable of variables) if (!variable.isDisposed) variable.dispose();
}

/**
 * The feature model `cut` makes of `full`, owning every weight `full` loaded: those the cut cannot reach (a classifier
 * cut off) are freed now, since disposing the cut frees only its own; when `cut` throws (no such layer), `full` is
 * freed whole. Dispose the result with {@link disposeLayersModel}.
 */
export function cutOwningWeights(full: tf.LayersModel, cut: (full: tf.LayersModel) => tf.LayersModel): tf.LayersModel {
  let features: tf.LayersModel;
  try {
    features = cut(full);
  } catch (error) {
    disposeLayersModel(full);
    throw error;
  }
  if (features !== full) {
    const kept = new Set(features.weights.map((weight) => weight.read()));
    for (const weight of full.weights) {
      const variable = weight.read();
      if (!kept.has(variable)) variable.dispose();
    }
  }
  return features;
}
