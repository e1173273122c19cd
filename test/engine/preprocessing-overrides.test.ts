import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GraftError } from '../../src/core/errors.js';
import { backboneFromOptions, type PreprocessingOverrides } from '../../src/engine/open-backbone.js';
import { hasShared, int8Model, tempDir } from '../support.js';

describe.skipIf(!hasShared)('preprocessing overrides', () => {
  const open = async (overrides: unknown) => backboneFromOptions({ backbone: int8Model, cacheDir: join(await tempDir('graft-overrides-'), 'cache'), overrides: overrides as PreprocessingOverrides });

  it('are applied when known', async () => {
    expect((await open({ inputSize: 160 })).info.preprocessing.inputSize).toBe(160);
  });

  it('refuse a misspelt key (naming the one meant), a string and null, instead of training with the model\'s own', async () => {
    const refusal = async (overrides: unknown): Promise<GraftError> => {
      const error = await open(overrides).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(GraftError);
      expect((error as GraftError).code).toBe('INVALID_CONFIG');
      return error as GraftError;
    };
    const misspelt = await refusal({ inputsize: 160 });
    expect(misspelt.message).toMatch(/Unknown preprocessing override: inputsize\. Known: inputSize, scale, layout, resize, cropFraction/);
    expect(misspelt.hint).toBe('did you mean inputSize?');
    expect((await refusal({ crop_fraction: 0.5 })).hint).toBe('did you mean cropFraction?');
    expect((await refusal('inputSize=160')).message).toMatch(/overrides must be an object/);
    expect((await refusal(null)).message).toMatch(/overrides must be an object/);
  });
});
