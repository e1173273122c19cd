import { describe, expect, it } from 'vitest';
import { manifestProblem } from '../../src/model/manifest-schema.js';

// What a loader relies on in graft.json, as Graft writes it (the rest of the file is a record for people).
const valid = {
  format: 'graft-model',
  version: 2,
  labels: ['ants', 'bees'],
  preprocessing: { inputSize: 224, resize: 'center-crop', interpolation: 'bilinear', scale: 'imagenet', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], layout: 'nchw', channels: 'rgb' },
  files: { onnx: 'model.onnx', headWeights: 'head.bin' },
  onnx: { input: 'input', probabilities: 'probabilities', features: 'graft_features' },
  backbone: { name: 'm', source: 'm.onnx', format: 'onnx', sha256: '0' },
};

describe('the graft.json schema (compiled by ajv at build time)', () => {
  it('accepts a manifest as Graft writes it, with extra fields a later version may add', () => {
    expect(manifestProblem(valid)).toBeUndefined();
    expect(manifestProblem({ ...valid, training: { anything: 1 } })).toBeUndefined();
  });

  it('names the first problem, where it is and what was there', () => {
    expect(manifestProblem({ ...valid, labels: ['ants', 'ants'] })).toMatch(/^labels must NOT have duplicate items.*Received: \["ants","ants"\]$/);
    expect(manifestProblem({ ...valid, labels: ['ants', ''] })).toMatch(/^labels\.1 must NOT have fewer than 1 characters/);
    expect(manifestProblem({ ...valid, files: { onnx: '../../etc/passwd' } })).toBe('files.onnx must be a plain file name in the model directory. Received: "../../etc/passwd"');
    expect(manifestProblem({ ...valid, files: { onnx: '.hidden' } })).toMatch(/^files\.onnx must be a plain file name/);
    expect(manifestProblem({ ...valid, preprocessing: { ...valid.preprocessing, scale: 'zero-one' } })).toBe(
      'preprocessing.scale must be equal to one of the allowed values (imagenet, -1..1, 0..1). Received: "zero-one"',
    );
    expect(manifestProblem({ ...valid, preprocessing: { ...valid.preprocessing, std: [0.2, 0, 0.2] } })).toMatch(/^preprocessing\.std\.1 must be > 0\. Received: 0$/);
    expect(manifestProblem({ ...valid, preprocessing: { ...valid.preprocessing, inputSize: 224.5 } })).toMatch(/^preprocessing\.inputSize must be integer/);
    expect(manifestProblem({ ...valid, format: 'keras' })).toMatch(/^format must be equal to constant/);
    const { onnx: _, ...noOnnx } = valid;
    expect(manifestProblem(noOnnx)).toMatch(/^the manifest must have required property 'onnx'/);
    expect(manifestProblem([valid])).toMatch(/^the manifest must be object/);
  });
});
