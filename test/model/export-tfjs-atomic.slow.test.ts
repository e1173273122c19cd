import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { exportTfjs, TFJS_METADATA_FILE } from '../../src/model/export-tfjs.js';
import { removeTinyModel, trainTinyModel, type TinyModel } from '../web/web-support.js';

// The metadata write fails on demand, as a full disk or a kill between the model and its metadata would.
const failMetadata = { on: false };
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  const writeFile: typeof fs.writeFile = async (file, ...rest) => {
    if (failMetadata.on && String(file).endsWith('graft-model.json')) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    return fs.writeFile(file, ...rest);
  };
  return { ...fs, default: { ...fs, writeFile }, writeFile };
});

describe('graft export --to tfjs writes the model and its metadata together', () => {
  let model: TinyModel;
  beforeAll(async () => {
    model = await trainTinyModel();
  }, 120_000);
  afterAll(() => removeTinyModel(model));

  it('a failure writing graft-model.json leaves the earlier complete export as it was, and nothing beside it', async () => {
    const out = join(model.root, 'tfjs');
    await exportTfjs(model.dir, { out });
    const complete = readdirSync(out).sort();
    expect(complete).toEqual(expect.arrayContaining(['model.json', TFJS_METADATA_FILE]));
    failMetadata.on = true;
    try {
      await expect(exportTfjs(model.dir, { out, overwrite: true })).rejects.toThrow(/ENOSPC/);
    } finally {
      failMetadata.on = false;
    }
    // Before, the new model.json was swapped in first: the folder passed as a TF.js export with no labels beside it.
    expect(readdirSync(out).sort()).toEqual(complete);
    expect(existsSync(join(out, TFJS_METADATA_FILE))).toBe(true);
    expect(readdirSync(dirname(out)).filter((name) => name.startsWith('tfjs.'))).toEqual([]);
  }, 120_000);
});
