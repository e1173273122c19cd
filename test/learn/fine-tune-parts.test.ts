import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GraftError } from '../../src/core/errors.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/learn/checkpoint.js';
import { fineTuneConfigFrom } from '../../src/learn/fine-tune-config.js';
import { compareOnHoldout, holdoutLogLoss } from '../../src/learn/holdout-comparison.js';
import { learningRateAt } from '../../src/learn/lr-schedule.js';
import { tempDir } from '../support.js';

describe('learning-rate schedules', () => {
  const total = 101;
  it('one-cycle warms up from max/div to max, then decays to max/finalDiv', () => {
    const at = (step: number) => learningRateAt(step, { kind: 'one-cycle', maxLr: 1e-3, totalSteps: total, warmupFraction: 0.25, div: 5, finalDiv: 1e4 });
    expect(at(0)).toBeCloseTo(2e-4, 12);
    expect(at(25)).toBeCloseTo(1e-3, 12);
    expect(at(100)).toBeCloseTo(1e-7, 12);
    for (let s = 1; s <= 25; s++) expect(at(s)).toBeGreaterThan(at(s - 1));
    for (let s = 26; s <= 100; s++) expect(at(s)).toBeLessThan(at(s - 1));
  });
  it('cosine decays from the first step; constant stays', () => {
    expect(learningRateAt(0, { kind: 'cosine', maxLr: 0.01, totalSteps: total })).toBeCloseTo(0.01, 12);
    expect(learningRateAt(50, { kind: 'cosine', maxLr: 0.01, totalSteps: total })).toBeCloseTo((0.01 + 1e-6) / 2, 9);
    expect(learningRateAt(77, { kind: 'constant', maxLr: 0.01, totalSteps: total })).toBe(0.01);
  });
});

describe('fine-tuning config', () => {
  it('fills defaults and rejects bad values and unknown keys with the value named', () => {
    expect(fineTuneConfigFrom({}).unfreeze).toBe('last:3');
    // @ts-expect-error -- the type refuses it; a JavaScript caller (or a --config file) is told at run time.
    expect(() => fineTuneConfigFrom({ unfreeze: 'top3' })).toThrow(/last:<N>.*top3/);
    expect(() => fineTuneConfigFrom({ views: -1 })).toThrow(/views.*-1/);
    expect(() => fineTuneConfigFrom({ epohcs: 3 } as never)).toThrow(/epohcs/);
    // The whole network at batch 32 passes tfjs-wasm's 4 GB: it defaults to 8, and a batch size given is kept.
    expect(fineTuneConfigFrom({}).batchSize).toBe(32);
    expect(fineTuneConfigFrom({ unfreeze: 'all' }).batchSize).toBe(8);
    expect(fineTuneConfigFrom({ unfreeze: 'all', batchSize: 16 }).batchSize).toBe(16);
  });
});

describe('fine-tuning against the head on held-out images', () => {
  // 20 held-out images of class 0 and 2 of class 1 (two classes).
  const labels = Int32Array.from([...Array(20).fill(0), 1, 1]);
  const files = Array.from(labels, (_, i) => `f${i}`);
  /** Probability of each image's own class: `common(i)` for class 0, `rare` for class 1. */
  const probabilities = (common: (i: number) => number, rare: number) => {
    const p = new Float32Array(labels.length * 2);
    labels.forEach((l, i) => {
      const own = l === 0 ? common(i) : rare;
      p[i * 2 + l] = own;
      p[i * 2 + 1 - l] = 1 - own;
    });
    return p;
  };
  const byFile = (p: Float32Array) => new Map(files.map((f, i) => [f, p.subarray(i * 2, i * 2 + 2)]));
  const tuned = (common: (i: number) => number, rare: number) => ({ probabilities: probabilities(common, rare), labels, files });
  // The head: 0.6 on its own class for every image (log-loss 0.51, all right).
  const head = byFile(probabilities(() => 0.6, 0.6));

  it('with every weight 1 the weighted test is the unweighted one', () => {
    const run = tuned((i) => 0.7 + 0.01 * (i % 5), 0.65);
    const plain = compareOnHoldout(run, head)!;
    const ones = compareOnHoldout(run, head, new Float32Array([1, 1]))!;
    expect(ones.mean).toBeCloseTo(plain.mean, 12);
    expect(ones.t).toBeCloseTo(plain.t, 9);
    expect(plain.isClear).toBe(true);
    expect([plain.headAccuracy, plain.tunedAccuracy]).toEqual([1, 1]);
    // The head's loss is -log 0.6 on every image; the difference of the two losses is the paired mean.
    expect(plain.headLoss).toBeCloseTo(-Math.log(0.6), 6);
    expect(plain.tunedLoss - plain.headLoss).toBeCloseTo(plain.mean, 12);
  });

  it("with balanced weights a rare class made much worse outweighs the common class's gain", () => {
    // Class 0 improves everywhere (log-loss 0.51 -> ~0.08); both rare images get worse (0.51 -> 1.2).
    const run = tuned((i) => 0.9 + 0.01 * (i % 5), Math.exp(-1.2));
    expect(compareOnHoldout(run, head)!.t).toBeLessThan(-2);
    const balanced = new Float32Array([22 / (2 * 20), 22 / (2 * 2)]);
    const weighted = compareOnHoldout(run, head, balanced)!;
    expect(weighted.mean).toBeGreaterThan(0);
    expect(weighted.t).toBeGreaterThan(0);
    // Both losses are weighted the same way: half the weight on the two rare images.
    expect(weighted.tunedLoss).toBeCloseTo(0.5 * 1.2 + (0.5 / 20) * Array.from({ length: 20 }, (_, i) => -Math.log(0.9 + 0.01 * (i % 5))).reduce((a, b) => a + b, 0), 5);
    expect(weighted.tunedLoss - weighted.headLoss).toBeCloseTo(weighted.mean, 12);
    expect(weighted.isClear).toBe(false);
  });

  it("the head's held-out loss said before the epochs is the verdict's, weighted alike (it was the plain mean)", () => {
    const run = tuned((i) => 0.9 + 0.01 * (i % 5), Math.exp(-1.2));
    const balanced = new Float32Array([22 / (2 * 20), 22 / (2 * 2)]);
    expect(holdoutLogLoss(head, run, balanced)).toBeCloseTo(compareOnHoldout(run, head, balanced)!.headLoss, 12);
    expect(holdoutLogLoss(head, run)).toBeCloseTo(compareOnHoldout(run, head)!.headLoss, 12);
    expect(holdoutLogLoss(head, { files: [], labels: new Int32Array(0) })).toBeUndefined();
  });

  it('a clearly lower log-loss does not win when fewer images come out right', () => {
    // An under-confident head (0.55, every image right) against a confident model that gets 18 of 20 common images
    // nearly certain and 2 wrong: log-loss 0.6 -> ~0.17, clearly lower, but 2 images lost.
    const underConfident = byFile(probabilities(() => 0.55, 0.55));
    const run = tuned((i) => (i < 2 ? 0.45 : 0.99), 0.9);
    const verdict = compareOnHoldout(run, underConfident)!;
    expect(verdict.t).toBeLessThan(-2);
    expect(verdict.tunedAccuracy).toBeCloseTo(20 / 22, 6);
    expect(verdict.headAccuracy).toBe(1);
    expect(verdict.isClear).toBe(false);
    // The same model with those two images right is kept.
    expect(compareOnHoldout(tuned((i) => (i < 2 ? 0.6 : 0.99), 0.9), underConfident)!.isClear).toBe(true);
  });

  it('weighs accuracy by class: losing a rare image costs more than a common one gains', () => {
    // Tuned gets one more common image right (the head had f0 wrong) and one rare image wrong.
    const headP = probabilities((i) => (i === 0 ? 0.4 : 0.6), 0.6);
    const run = tuned(() => 0.99, 0.9);
    run.probabilities.set([0.7, 0.3], 21 * 2);
    const plain = compareOnHoldout(run, byFile(headP))!;
    expect(plain.tunedAccuracy).toBeCloseTo(plain.headAccuracy, 12);
    const weighted = compareOnHoldout(run, byFile(headP), new Float32Array([22 / 40, 22 / 4]))!;
    expect(weighted.tunedAccuracy).toBeLessThan(weighted.headAccuracy);
    expect(weighted.isClear).toBe(false);
  });
});

describe('checkpoints', () => {
  it('round-trip tensors and state, and a damaged file is named with a fix', async () => {
    const dir = await tempDir();
    const path = join(dir, 'run.checkpoint');
    const tensors = new Map([
      ['current/0', { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) }],
      ['opt-body/0', { shape: [], data: Float32Array.from([7]) }],
    ]);
    await saveCheckpoint(path, { fingerprint: 'abc', epoch: 2, history: [{ loss: 1, acc: 0.5 }], bestEpoch: 1, bestLoss: Infinity, tensors, extra: { note: 'x' } });
    const back = (await loadCheckpoint(path))!;
    expect(back.epoch).toBe(2);
    expect(back.bestLoss).toBe(Infinity);
    expect(back.extra).toEqual({ note: 'x' });
    expect([...back.tensors.get('current/0')!.data]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(back.tensors.get('opt-body/0')!.shape).toEqual([]);
    expect(await loadCheckpoint(join(dir, 'none'))).toBeUndefined();

    await writeFile(path, (await import('node:fs')).readFileSync(path).subarray(0, 100));
    const error = await loadCheckpoint(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GraftError);
    expect((error as GraftError).code).toBe('INVALID_CHECKPOINT');
    expect((error as GraftError).message).toContain(path);
    expect((error as GraftError).hint).toContain('rm');
  });
});
