import { describe, expect, it } from 'vitest';
import { GraftError } from '../../src/core/errors.js';
import { denseForward, foldNormalization } from '../../src/core/dense-layer.js';
import { headFromConfig, headToConfig } from '../../src/learn/head-config.js';
import { trainConfigFrom } from '../../src/learn/train-config.js';
import { trainHead, type FeatureMatrix, type LabelledFeatures } from '../../src/learn/train-head.js';
import { matrixRowSource } from '../../src/features/feature-rows.js';
import { clusters as gaussianClusters, imbalancedClusters } from './clusters.js';

/** Gaussian clusters (see test/learn/clusters.ts) in trainHead's shape. */
function clusters(count: number, dim: number, classes: number, seed: number, spread = 1): LabelledFeatures & { features: FeatureMatrix } {
  const { rows, labels } = gaussianClusters(count, dim, classes, seed, spread);
  return { features: rows, labels };
}

describe('trainHead', () => {
  it('learns separable clusters with a linear head and with a hidden layer', async () => {
    const train = clusters(150, 16, 3, 1);
    const val = clusters(60, 16, 3, 2);
    for (const hidden of [[], [32]]) {
      // 20 epochs: the linear head is at its final accuracy from epoch 12, the hidden layer's from epoch 3.
      const head = await trainHead(train, val, 3, trainConfigFrom({ epochs: 20, learningRate: 0.01, head: { hidden } }));
      expect(head.history.at(-1)!.val_acc).toBeGreaterThan(0.9);
      expect(head.layers.map((l) => l.activation)).toEqual(hidden.length ? ['relu', 'softmax'] : ['softmax']);
    }
  });

  it("weighs rare classes up as the config says: on 10:1 rows the rare class's recall on even held-out rows rises", async () => {
    const { rows, labels, recalls: heldOutRecalls } = imbalancedClusters();
    const recalls = async (classWeights: 'none' | 'balanced'): Promise<number[]> => {
      // 15 epochs of 64 rows (a quarter of the steps of 30 of 32): the rare recall still rises by about 0.5.
      const head = await trainHead({ features: rows, labels }, undefined, 2, trainConfigFrom({ classWeights, epochs: 15, batchSize: 64, learningRate: 0.01, head: { hidden: [16], dropout: 0 } }));
      return heldOutRecalls(foldNormalization(head.layers, head.normalization));
    };
    const [unweighted, balanced] = [await recalls('none'), await recalls('balanced')];
    expect(balanced[1]! - unweighted[1]!).toBeGreaterThan(0.1);
    expect(balanced[0]! + balanced[1]!).toBeGreaterThan(unweighted[0]! + unweighted[1]!);
  });

  it('is reproducible for a seed, and the seed matters', async () => {
    const train = clusters(90, 8, 3, 3, 3);
    const val = clusters(30, 8, 3, 4, 3);
    const run = (seed: number) => trainHead(train, val, 3, trainConfigFrom({ epochs: 5, seed, head: { hidden: [16], dropout: 0.3 } }));
    const [a, b, c] = [await run(7), await run(7), await run(8)];
    expect(Array.from(a.layers[0]!.weight)).toEqual(Array.from(b.layers[0]!.weight));
    expect(a.history).toEqual(b.history);
    expect(Array.from(a.layers[0]!.weight)).not.toEqual(Array.from(c.layers[0]!.weight));
  });

  it('stops early when val_loss stops improving and keeps the best epoch', async () => {
    // Pure noise labels: validation loss gets worse as the head memorises the training set.
    const train = clusters(60, 32, 2, 5, 50);
    const val = clusters(40, 32, 2, 6, 50);
    const head = await trainHead(train, val, 2, trainConfigFrom({ epochs: 200, patience: 3, head: { hidden: [64], dropout: 0 }, learningRate: 0.01 }));
    expect(head.stoppedEarly).toBe(true);
    expect(head.history.length).toBe(head.bestEpoch + 3);
    const best = Math.min(...head.history.map((h) => h.val_loss!));
    expect(head.history[head.bestEpoch - 1]!.val_loss).toBe(best);
  });

  it('trains on rows read by position (too many for memory) as it trains on a matrix: same seed, near-equal weights', async () => {
    const train = clusters(300, 16, 3, 11, 3);
    const val = clusters(90, 16, 3, 12, 3);
    const config = trainConfigFrom({ epochs: 8, seed: 5, learningRate: 0.01, head: { hidden: [16], dropout: 0.2 } });
    const inMemory = await trainHead(train, val, 3, config);
    // Read by position: batches are gathered and standardised in JS, validation is scored in blocks.
    const streamed = await trainHead({ ...train, features: matrixRowSource(train.features) }, { ...val, features: matrixRowSource(val.features) }, 3, config);
    expect(streamed.normalization.mean).toEqual(inMemory.normalization.mean);
    expect(streamed.history.length).toBe(inMemory.history.length);
    expect(streamed.bestEpoch).toBe(inMemory.bestEpoch);
    for (const [a, b] of streamed.history.map((h, i) => [h, inMemory.history[i]!] as const)) {
      expect(a.val_loss!).toBeCloseTo(b.val_loss!, 4);
      expect(a.val_acc).toBeCloseTo(b.val_acc!, 6);
    }
    const w = streamed.layers[0]!.weight;
    const v = inMemory.layers[0]!.weight;
    expect(Math.max(...w.map((x, i) => Math.abs(x - v[i]!)))).toBeLessThan(1e-3);
  });

  it('folding the standardisation into the first layer gives the same probabilities on raw features', async () => {
    const train = clusters(60, 8, 2, 9);
    const head = await trainHead(train, undefined, 2, trainConfigFrom({ epochs: 3, head: { hidden: [8] } }));
    const folded = foldNormalization(head.layers, head.normalization);
    const x = train.features.data.subarray(0, 8);
    const standardised = x.map((v, d) => (v - head.normalization.mean[d]!) / head.normalization.std[d]!);
    const expected = denseForward(head.layers, standardised);
    const actual = denseForward(folded, x);
    for (let i = 0; i < expected.length; i++) expect(actual[i]).toBeCloseTo(expected[i]!, 5);
  });
});

describe('training configs', () => {
  it('round-trip through JSON and reject unknown keys and bad values with the value received', () => {
    const head = headFromConfig({ hidden: [1024], dropout: 0.5 });
    expect(headFromConfig(JSON.parse(JSON.stringify(headToConfig(head))))).toEqual(head);
    const config = trainConfigFrom({ epochs: 10, head: { hidden: [] } });
    expect(trainConfigFrom(JSON.parse(JSON.stringify(config)))).toEqual(config);
    expect(() => trainConfigFrom({ learningrate: 0.1 } as never)).toThrow(/Unknown training options: learningrate/);
    const bad = (() => {
      try {
        trainConfigFrom({ epochs: 0 });
      } catch (e) {
        return e;
      }
    })() as GraftError;
    expect(bad.code).toBe('INVALID_CONFIG');
    expect(bad.message).toContain('Received: 0');
    expect(() => headFromConfig({ hidden: [0] })).toThrow(GraftError);
  });
});
