import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GraftError } from '../../src/core/errors.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/learn/checkpoint.js';
import { fineTuneConfigFrom } from '../../src/learn/fine-tune-config.js';
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
