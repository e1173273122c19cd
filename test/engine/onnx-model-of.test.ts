import { describe, expect, it } from 'vitest';
import { backboneFromOptions, type BackboneHandle } from '../../src/engine/open-backbone.js';
import { multiScaleBackbone } from '../../src/engine/multi-scale-backbone.js';
import { onnxModelOf } from '../../src/engine/onnx-model-of.js';
import { encodeOnnxModel } from '../../src/onnx/onnx-model.js';
import { hasShared, int8Model, skipReason, tempDir } from '../support.js';

/** Byte equality without vitest's element-by-element diff (the models are 3.7 MB). */
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);

skipReason('the handle model tests');
describe.skipIf(!hasShared)('a backbone handle as a decoded model (built once, encoded once)', () => {
  const open = async (): Promise<BackboneHandle> => backboneFromOptions({ backbone: int8Model, cacheDir: await tempDir('graft-handle-model-') });

  it('is the model its bytes encode, had once per handle', async () => {
    const handle = await open();
    const model = await onnxModelOf(handle);
    expect(await onnxModelOf(handle)).toBe(model);
    expect(same(encodeOnnxModel(model), await handle.onnxBytes())).toBe(true);
  });

  it('a two-scale wrapper builds on the decoded backbone without changing it, and its bytes are its model encoded', async () => {
    const handle = await open();
    const before = encodeOnnxModel(await onnxModelOf(handle));
    const wrapped = multiScaleBackbone(handle);
    const model = await onnxModelOf(wrapped);
    expect(model).not.toBe(await onnxModelOf(handle));
    expect(model.graph?.output?.map((o) => o.name)).toEqual(['graft_features']);
    expect(same(encodeOnnxModel(model), await wrapped.onnxBytes())).toBe(true);
    expect(same(encodeOnnxModel(await onnxModelOf(handle)), before)).toBe(true);
  });

  it('decodes the bytes of a handle Graft did not open (e.g. one a user wrote)', async () => {
    const opened = await open();
    const bytes = await opened.onnxBytes();
    const own: BackboneHandle = { info: opened.info, onnxBytes: async () => bytes, onnxFeatureOutput: opened.onnxFeatureOutput, load: () => opened.load() };
    const model = await onnxModelOf(own);
    expect(await onnxModelOf(own)).toBe(model);
    expect(same(encodeOnnxModel(model), bytes)).toBe(true);
  });

  it('runs at another --input-size than the file declares (224): its input declared as asked, as two scales already do', async () => {
    const handle = await backboneFromOptions({ backbone: int8Model, cacheDir: await tempDir('graft-handle-side-'), overrides: { inputSize: 288 } });
    expect(handle.info.preprocessing.inputSize).toBe(288);
    const backbone = await handle.load();
    try {
      // Before, onnxruntime refused the first image: "Got invalid dimensions for input: input" (an internal error).
      const features = await backbone.embed(new Float32Array(3 * 288 * 288).fill(0.5), 1);
      expect(features.length).toBe(handle.info.featureDim);
      expect(features.every(Number.isFinite)).toBe(true);
    } finally {
      await backbone.dispose();
    }
  });
});
