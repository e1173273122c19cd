import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GraftError } from '../../src/core/errors.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/learn/checkpoint.js';
import { fineTuneConfigFrom } from '../../src/learn/fine-tune-config.js';
import { pairedImprovement } from '../../src/learn/fine-tune-on-holdout.js';
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
    expect(() => fineTuneConfigFrom({ unfreeze: 'top3' })).toThrow(/last:<N>.*top3/);
    expect(() => fineTuneConfigFrom({ views: -1 })).toThrow(/views.*-1/);
    expect(() => fineTuneConfigFrom({ epohcs: 3 } as never)).toThrow(/epohcs/);
  });
});

describe('fine-tuning against the head on held-out images', () => {
  // 20 held-out images of class 0 and 2 of class 1; the head's loss is 0.5 on every image.
  const labels = Int32Array.from([...Array(20).fill(0), 1, 1]);
  const files = Array.from(labels, (_, i) => `f${i}`);
  const headLosses = new Map(files.map((f) => [f, 0.5]));
  /** Fine-tuning's probability of each image's own class: `common` for class 0, `rare` for class 1 (two classes). */
  const tuned = (common: (i: number) => number, rare: number) => {
    const probabilities = new Float32Array(labels.length * 2);
    labels.forEach((l, i) => {
      const p = l === 0 ? common(i) : rare;
      probabilities[i * 2 + l] = p;
      probabilities[i * 2 + 1 - l] = 1 - p;
    });
    return { probabilities, labels, files };
  };

  it('with every weight 1 the weighted test is the unweighted one', () => {
    const run = tuned((i) => 0.7 + 0.01 * (i % 5), 0.55);
    const plain = pairedImprovement(run, headLosses)!;
    const ones = pairedImprovement(run, headLosses, new Float32Array([1, 1]))!;
    expect(ones.mean).toBeCloseTo(plain.mean, 12);
    expect(ones.t).toBeCloseTo(plain.t, 9);
    expect(plain.isClear).toBe(true);
  });

  it("with balanced weights a rare class made much worse outweighs the common class's gain", () => {
    // Class 0 improves everywhere (log-loss 0.5 -> ~0.08); both rare images get worse (0.5 -> 1.2).
    const run = tuned((i) => 0.9 + 0.01 * (i % 5), Math.exp(-1.2));
    expect(pairedImprovement(run, headLosses)!.isClear).toBe(true);
    const balanced = new Float32Array([22 / (2 * 20), 22 / (2 * 2)]);
    const weighted = pairedImprovement(run, headLosses, balanced)!;
    expect(weighted.mean).toBeGreaterThan(0);
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
