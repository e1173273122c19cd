import { describe, expect, it } from 'vitest';
import { GraftError } from '../../src/core/errors.js';
import { train, type TrainOptions } from '../../src/recipes/train.js';
import { trainFromFeatures, type TrainFromFeaturesOptions } from '../../src/recipes/train-from-features.js';

describe('options train() and trainFromFeatures() do not read', () => {
  it('are refused before any work, naming where a training option belongs, as unknown config keys are', async () => {
    // A variable escapes TypeScript's check of extra properties: this compiles, and trained with seed 42 before.
    const options = { train: '/nonexistent', out: '/nonexistent-out', seed: 7, hidden: [64], typo: 1 };
    const error = (await train(options as TrainOptions).catch((e: unknown) => e)) as GraftError;
    expect(error).toBeInstanceOf(GraftError);
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toMatch(/^Unknown options of train\(\): seed, hidden, typo\. Known: train, val/);
    expect(error.hint).toBe('seed belongs in config: { seed: ... }; hidden belongs in config.head: { head: { hidden: ... } }');
    const fromFeatures = (await trainFromFeatures({ features: '/nonexistent', out: '/x', valSplit: undefined, folds: 3 } as TrainFromFeaturesOptions).catch((e: unknown) => e)) as GraftError;
    expect(fromFeatures.message).toMatch(/^Unknown option of trainFromFeatures\(\): folds\./);
    // A known option left undefined is no option at all; the run goes on to what is really wrong (the folder).
    const missing = (await train({ train: '/nonexistent', out: '/nonexistent-out', val: undefined }).catch((e: unknown) => e)) as GraftError;
    expect(missing.code).toBe('INVALID_DATASET');
  });
});

// Found by a QA pass over the library: a JavaScript caller's slips were Node TypeErrors about `paths[0]`, a tfjs or
// RangeError, a blame on the model or the URLs, or a value taken as something else.
describe("what a JavaScript caller gets wrong, said before any work as INVALID_CONFIG naming the option", () => {
  const refusal = async (call: () => Promise<unknown>): Promise<string> => {
    const error = (await call().then(() => undefined, (e: unknown) => e)) as GraftError;
    expect(error).toBeInstanceOf(GraftError);
    expect(error.code).toBe('INVALID_CONFIG');
    return error.message;
  };
  const loose = (options: object) => options as unknown as TrainOptions;

  it('train()', async () => {
    expect(await refusal(() => train(undefined as unknown as TrainOptions))).toBe('train() takes an options object. Received: undefined');
    expect(await refusal(() => train(loose({ train: '/nonexistent' })))).toBe('train() needs out (--out): the model directory to write. Received: undefined');
    expect(await refusal(() => train(loose({ out: '/nonexistent-out' })))).toBe('train() needs train (--<train-dir>): the training images. Received: undefined');
    const base = { train: '/nonexistent', out: '/nonexistent-out' };
    expect(await refusal(() => train(loose({ ...base, engine: 'torch' })))).toBe(`engine must be 'onnxruntime' or 'tfjs'. Received: "torch"`);
    expect(await refusal(() => train(loose({ ...base, fineTune: true })))).toMatch(/^fineTune must be an object of fine-tuning options/);
    expect(await refusal(() => train(loose({ ...base, valSplit: '0.2' })))).toBe('valSplit must be a number (a fraction of the training images). Received: "0.2"');
    expect(await refusal(() => train(loose({ ...base, signal: 'x' })))).toBe('signal must be an AbortSignal. Received: string');
    expect(await refusal(() => train(loose({ ...base, onProgress: 5 })))).toBe('onProgress must be a function of each event. Received: number');
  });

  it('convertModel() and downloadImages()', async () => {
    const { convertModel } = await import('../../src/convert/convert-model.js');
    const { downloadImages } = await import('../../src/data/download-images.js');
    expect(await refusal(() => convertModel('/nonexistent.onnx', undefined as never))).toBe("convertModel's to must be 'onnx' or 'tfjs'. Received: undefined");
    expect(await refusal(() => convertModel('/nonexistent.onnx', { to: 'pytorch' as never }))).toBe(`convertModel's to must be 'onnx' or 'tfjs'. Received: "pytorch"`);
    // The model is not even looked for: the tolerance is the caller's (NaN "did not match" the source before).
    for (const tolerance of [Number.NaN, -1, 0]) expect(await refusal(() => convertModel('/nonexistent.onnx', { to: 'onnx', tolerance }))).toMatch(/^tolerance must be a positive number/);
    expect(await refusal(() => convertModel('/nonexistent.onnx', { to: 'onnx', tolerence: 1e-3 } as never))).toMatch(/^Unknown option of convertModel\(\): tolerence\. Known: to, out, tolerance/);
    for (const [options, message] of [
      [{ maxBytes: -5 }, 'downloadImages: maxBytes must be a number of bytes > 0. Received: -5'],
      [{ maxBytes: Number.NaN }, 'downloadImages: maxBytes must be a number of bytes > 0. Received: NaN'],
      [{ retries: 1.5 }, 'downloadImages: retries must be a whole number >= 0. Received: 1.5'],
      [{ retryDelayMs: -100 }, 'downloadImages: retryDelayMs must be a number of milliseconds >= 0. Received: -100'],
      [{ concurrency: 0 }, 'downloadImages: concurrency must be a whole number >= 1. Received: 0'],
    ] as const) {
      expect(await refusal(() => downloadImages('/nonexistent.csv', '/nonexistent-out', options))).toBe(message);
    }
    expect(await refusal(() => downloadImages('/nonexistent.csv', '/nonexistent-out', { concurency: 2 } as never))).toMatch(/^Unknown option of downloadImages\(\): concurency\./);
  });
});
