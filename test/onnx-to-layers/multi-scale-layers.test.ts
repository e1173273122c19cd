import { describe, expect, it } from 'vitest';
import { resizeMatrix } from '../../src/onnx-to-layers/view-layers.js';

// A real two-scale classifier converted both ways (about 3 s) is checked in multi-scale-layers.slow.test.ts.

describe('resize matrix', () => {
  it('each output pixel is a convex mix of at most two neighbours, as ONNX Resize linear half_pixel', () => {
    const m = resizeMatrix(256, 224);
    for (let j = 0; j < 224; j++) {
      let sum = 0;
      let nonZero = 0;
      for (let i = 0; i < 256; i++) {
        sum += m[i * 224 + j]!;
        if (m[i * 224 + j] !== 0) nonZero++;
      }
      expect(sum).toBeCloseTo(1, 6);
      expect(nonZero).toBeLessThanOrEqual(2);
    }
    // Output pixel 0 samples input x = 0.5 * 256/224 - 0.5 = 0.0714...: mostly pixel 0.
    expect(m[0]).toBeCloseTo(1 - (0.5 * 256) / 224 + 0.5, 5);
  });
});
