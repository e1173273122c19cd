import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseManifest, readModelDir } from '../../src/model/manifest.js';
import { tempDir } from '../support.js';

// A graft.json as Graft wrote it before the config/outcome split (manifest version 1), for a fine-tuned model.
const config = { version: 2, head: { version: 1, hidden: [], dropout: 0.5 }, multiScale: true, c: 'auto', mirror: 'auto', tta: 'auto', folds: 'auto', groupBy: null, classWeights: 'none', epochs: 60, batchSize: 32, learningRate: 0.001, patience: 8, weightDecay: 0.0001, labelSmoothing: 0, seed: 42 };
const fineTuneConfig = { unfreeze: 'last:3', epochs: 6, learningRate: 0.001, bodyLrRatio: 0.1, schedule: 'one-cycle', batchSize: 32, views: 2, patience: 0, classWeights: 'none', labelSmoothing: 0, weightDecay: 0.0001, batchNorm: 'frozen' };
const fineTuneOutcome = { cut: { tensor: 't', description: 'last 3 blocks' }, firstEpoch: 2, bestEpoch: 3, stoppedEarly: false, exportCheck: { images: 4, maxAbsDiff: 1e-6 }, kept: 'fine-tuned' };
const outcome = {
  data: { train: '/data/train', val: null, valSplit: 0.25 },
  images: { train: 30, val: 10, skipped: 0 },
  bestEpoch: 1,
  stoppedEarly: false,
  backend: 'linear-solver',
  selection: null,
  labelIssues: [{ file: 'a.jpg', given: 'ants', predicted: 'bees', confidence: 0.9, givenProbability: 0.05 }],
};
const rest = {
  format: 'graft-model',
  labels: ['ants', 'bees'],
  preprocessing: { inputSize: 224, resize: 'center-crop', interpolation: 'bilinear', scale: 'imagenet', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], layout: 'nchw', channels: 'rgb' },
  backbone: { name: 'm', source: 'm.onnx', format: 'onnx', sha256: '0', featureDim: 8, featureOutput: 'f' },
  head: { version: 1, hidden: [], dropout: 0.5, kind: 'linear', tensors: [], activations: ['softmax'] },
  metrics: { val: null, history: [] },
  files: { onnx: 'model.onnx', headWeights: 'head.bin' },
  onnx: { input: 'input', probabilities: 'probabilities', features: 'graft_features' },
  created: '2025-01-01T00:00:00.000Z',
  versions: { graft: '0.0.0' },
};
const v1 = { ...rest, version: 1, training: { ...config, ...outcome, fineTune: { ...fineTuneConfig, ...fineTuneOutcome } } };

describe('graft.json written before the config/outcome split (version 1)', () => {
  it('is read as version 2: what replays the run in training.config, what it found in training.outcome, nothing else moved', () => {
    const read = parseManifest(JSON.stringify(v1), 'graft.json');
    expect(read).toEqual({ ...rest, version: 2, training: { config: { ...config, fineTune: fineTuneConfig }, outcome: { ...outcome, fineTune: fineTuneOutcome } } });
  });

  it('loads from a model directory, with and without a fine-tuning phase or a training section', async () => {
    const dir = await tempDir('graft-manifest-v1-');
    await writeFile(join(dir, 'model.onnx'), '');
    const { fineTune: _, ...headOnly } = v1.training;
    await writeFile(join(dir, 'graft.json'), JSON.stringify({ ...v1, training: headOnly }));
    expect((await readModelDir(dir)).manifest.training).toEqual({ config, outcome });
    const { training: __, ...untrained } = v1;
    await writeFile(join(dir, 'graft.json'), JSON.stringify(untrained));
    expect((await readModelDir(dir)).manifest).toEqual({ ...rest, version: 2 });
  });

  it('a version 2 manifest is read as written, and other versions are refused', () => {
    const v2 = { ...rest, version: 2, training: { config, outcome } };
    expect(parseManifest(JSON.stringify(v2), 'graft.json')).toEqual(v2);
    expect(() => parseManifest(JSON.stringify({ ...v2, version: 3 }), 'graft.json')).toThrow(/manifest version 3; this Graft reads versions 1 and 2/);
  });
});
