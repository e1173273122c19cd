import * as tf from '@tensorflow/tfjs';

/**
 * Keras's Subtract merge layer (its first input minus its second), which TensorFlow.js lacks: without it a Keras or
 * TF.js layers model that uses one fails to load with "Unknown layer: Subtract".
 */
export class Subtract extends tf.layers.Layer {
  static readonly className = 'Subtract';

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shapes = inputShape as tf.Shape[];
    if (!Array.isArray(shapes[0]) || shapes.length !== 2) {
      throw new Error(`Subtract layer "${this.name}" must be called on exactly 2 inputs. Received: ${JSON.stringify(inputShape)}`);
    }
    return shapes[0];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const [x, y] = inputs as tf.Tensor[];
    return tf.sub(x!, y!);
  }

  override getClassName(): string {
    return Subtract.className;
  }
}

/**
 * Makes the Keras layers TensorFlow.js lacks (Subtract) known to tfjs's deserialiser, unless tfjs has its own: called
 * by each reader before it builds a model. tfjs's class registry is process-wide; registering is idempotent.
 */
export function registerLayersTfjsLacks(): void {
  if (!(Subtract.className in tf.serialization.SerializationMap.getMap().classNameMap)) tf.serialization.registerClass(Subtract);
}
