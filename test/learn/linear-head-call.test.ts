import { describe, expect, it } from 'vitest';
import { GraftError } from '../../src/core/errors.js';
import { learn } from '../../src/index.js';
import { clusters } from './clusters.js';

const { rows, labels } = clusters(60, 8, 3, 1, 1);
const set: learn.HeadTrainingSet = { plain: rows, labels, classNames: ['a', 'b', 'c'], files: Array.from(labels, (_, i) => `f${i}.png`) };
const options: learn.LinearHeadOptions = { c: 'auto', trainViews: 'auto', tta: 'auto', classWeights: 'none', maxFolds: 'auto', seed: 1 };

/** The error `learn.fitLinearHead` (as the package exports it) refuses the call with. */
async function refusal(callSet: learn.HeadTrainingSet, callOptions: learn.LinearHeadOptions): Promise<GraftError> {
  const error = await learn.fitLinearHead(callSet, callOptions).then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(GraftError);
  expect((error as GraftError).code).toBe('INVALID_CONFIG');
  return error as GraftError;
}

describe('learn.fitLinearHead refuses what a caller can pass and it cannot run as INVALID_CONFIG, not RangeError', () => {
  it('options that contradict each other or the set, named with the values received', async () => {
    const fixedNothing = await refusal(set, { ...options, crossValidate: false, trainViews: 'plain', tta: false });
    expect(fixedNothing.message).toBe("crossValidate: false chooses nothing, and c is 'auto'. Received: c: 'auto', trainViews: 'plain', tta: false");
    expect(fixedNothing.hint).toMatch(/^fix each of them \(e\.g\. c: 1/);
    const cropsOpen = await refusal(set, { ...options, c: 1, crossValidate: false });
    expect(cropsOpen.message).toMatch(/^crossValidate: false chooses nothing, and trainViews, tta are 'auto'/);
    const noMirror = await refusal(set, { ...options, trainViews: 'plain+flip' });
    expect(noMirror.message).toBe("trainViews: 'plain+flip' and tta: true need the mirror images' features, and set.mirrored is missing. Received: trainViews: 'plain+flip', tta: 'auto'");
    expect((await refusal(set, { ...options, tta: true })).message).toMatch(/set\.mirrored is missing/);
    const noCrops = await refusal(set, { ...options, crops: 'auto' });
    expect(noCrops.message).toBe("crops: 'auto' needs crop rows, and set.crops is missing");
  });

  it('a set whose parts disagree in shape, naming the part', async () => {
    const half = { data: rows.data.slice(0, 30 * 8), count: 30, dim: 8 };
    const mirrored = await refusal({ ...set, mirrored: half }, options);
    expect(mirrored.message).toBe('set.mirrored must hold 60 rows of 8 features. Received: 30 rows of 8');
    const crops = await refusal({ ...set, crops: { plain: rows } }, { ...options, crops: 'auto' });
    expect(crops.message).toBe('set.crops.plain must hold 240 rows of 8 features. Received: 60 rows of 8');
    expect((await refusal({ ...set, labels: labels.slice(1) }, options)).message).toBe('set.labels has 59 entries for 60 rows of set.plain');
    expect((await refusal({ ...set, labels: Int32Array.from(labels, (l) => (l === 2 ? 3 : l)) }, options)).message).toBe('set.labels must index set.classNames, from 0 to 2. Received: 3 at row 2');
    expect((await refusal({ ...set, groups: ['g'] }, options)).message).toBe('set.groups has 1 entries for 60 rows of set.plain');
  });

  // Found by a QA pass: a short data array was tfjs's "Tensor's size(40) does not match data length(7)", c: -1 the
  // solver's RangeError, and a NaN among the features a head of zeros that said nothing.
  it('values a caller gets wrong: the data, c, maxFolds, seed, and features that are not finite (naming the row and file)', async () => {
    expect((await refusal({ ...set, plain: { data: rows.data.slice(0, 7), count: 60, dim: 8 } }, options)).message).toBe('set.plain must hold 60 rows of 8 features. Received: 60 rows of 8 in 7 values');
    expect((await refusal({ ...set, plain: { data: rows.data, count: 60, dim: 0 } }, options)).message).toBe('set.plain.dim must be a whole number of features >= 1. Received: 0');
    for (const c of [-1, 0, Number.NaN, Number.POSITIVE_INFINITY]) expect((await refusal(set, { ...options, c })).message).toBe(`c must be a positive number, or 'auto'. Received: ${c}`);
    expect((await refusal(set, { ...options, maxFolds: 1 })).message).toBe("maxFolds must be a whole number >= 2, or 'auto'. Received: 1");
    expect((await refusal(set, { ...options, seed: Number.NaN })).message).toBe('seed must be a whole number. Received: NaN');
    const poisoned = { data: rows.data.slice(), count: 60, dim: 8 };
    poisoned.data[5 * 8 + 3] = Number.NaN;
    expect((await refusal({ ...set, plain: poisoned }, options)).message).toBe('set.plain holds NaN at row 5 (f5.png), feature 3: features must be finite numbers');
    const mirrored = { data: rows.data.slice(), count: 60, dim: 8 };
    mirrored.data[2] = Number.POSITIVE_INFINITY;
    expect((await refusal({ ...set, mirrored }, options)).message).toBe('set.mirrored holds Infinity at row 0 (f0.png), feature 2: features must be finite numbers');
  });

  it('a valid call still fits', async () => {
    const head = await learn.fitLinearHead(set, { ...options, crossValidate: false, c: 1, trainViews: 'plain', tta: false });
    expect(head.selection).toBeNull();
    expect(head.c).toBe(1);
  });
});
