import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { withoutRescaling } from '../../src/onnx-to-layers/legacy-layers.js';
import { disposeLayersModel } from '../../src/readers/dispose-layers-model.js';
import { ensureTfjsBackend } from '../../src/runtime/tfjs-backend.js';

describe('withoutRescaling: layers TensorFlow.js 1.3.1 reads', () => {
  it('replaces every Rescaling (one shared by two views, one on a vector) by depthwise layers giving the same floats', async () => {
    await ensureTfjsBackend();
    const image = tf.input({ shape: [4, 4, 3], name: 'image' });
    // A range clamp as the ONNX conversion makes one: a constant from Rescaling(scale 0), then Maximum; applied to two views.
    const shared = tf.layers.rescaling({ scale: 0, offset: -0.25, name: 'lo' });
    const clamp = tf.layers.maximum({ name: 'max' });
    const views = [image, tf.layers.permute({ dims: [2, 1, 3], name: 'turned' }).apply(image) as tf.SymbolicTensor].map(
      (v) => tf.layers.globalAveragePooling2d({ name: `pool_${v.name.replace(/\W/g, '_')}` }).apply(clamp.apply([v, shared.apply(v) as tf.SymbolicTensor])) as tf.SymbolicTensor,
    );
    const joined = tf.layers.concatenate({ name: 'joined' }).apply(views) as tf.SymbolicTensor;
    const output = tf.layers.rescaling({ scale: 1.5, offset: 0.125, name: 'affine' }).apply(joined) as tf.SymbolicTensor;
    const model = tf.model({ inputs: image, outputs: output });
    const legacy = withoutRescaling(model);
    try {
      const classes = legacy.layers.map((l) => l.getClassName());
      expect(classes).not.toContain('Rescaling');
      // One replacement per Rescaling layer, shared where the original was: lo twice, affine (a vector) via Reshape.
      expect(classes.filter((c) => c === 'DepthwiseConv2D')).toHaveLength(2);
      expect(JSON.stringify(legacy.toJSON(null, false))).not.toContain('Rescaling');
      const x = tf.randomUniform([2, 4, 4, 3], -1, 1, 'float32', 7);
      const [a, b] = [model, legacy].map((m) => (m.predict(x) as tf.Tensor).dataSync());
      expect(Array.from(b!)).toEqual(Array.from(a!));
      x.dispose();
    } finally {
      disposeLayersModel(legacy);
    }
  });
});
