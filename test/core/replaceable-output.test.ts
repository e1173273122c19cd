import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GraftError } from '../../src/core/errors.js';
import { assertOverwriteAllowed, assertReplaceableOutput, assertWritableFile, LAYERS_DIR_OUTPUT, MODEL_DIR_OUTPUT } from '../../src/core/replaceable-output.js';
import { train } from '../../src/recipes/train.js';
import { tempDir } from '../support.js';

const refusal = (promise: Promise<unknown>): Promise<GraftError> =>
  promise.then(
    () => {
      throw new Error('expected a refusal');
    },
    (error: unknown) => error as GraftError,
  );

describe('assertReplaceableOutput', () => {
  it('lets an output replace nothing, an empty folder, or an earlier output of its kind', async () => {
    const root = await tempDir();
    await expect(assertReplaceableOutput(join(root, 'new'), MODEL_DIR_OUTPUT)).resolves.toBeUndefined();
    await mkdir(join(root, 'empty'));
    await expect(assertReplaceableOutput(join(root, 'empty'), MODEL_DIR_OUTPUT)).resolves.toBeUndefined();
    await mkdir(join(root, 'model'));
    await writeFile(join(root, 'model', 'graft.json'), '{}');
    await writeFile(join(root, 'model', 'model.onnx'), '');
    await expect(assertReplaceableOutput(join(root, 'model'), MODEL_DIR_OUTPUT)).resolves.toBeUndefined();
  });

  it('refuses a file, a folder of other things, a folder of another kind, and an output holding the data', async () => {
    const root = await tempDir();
    await writeFile(join(root, 'notes.txt'), 'keep');
    expect((await refusal(assertReplaceableOutput(join(root, 'notes.txt'), MODEL_DIR_OUTPUT))).message).toMatch(/notes\.txt is a file/);
    await mkdir(join(root, 'photos', 'cats'), { recursive: true });
    const folder = await refusal(assertReplaceableOutput(join(root, 'photos'), MODEL_DIR_OUTPUT));
    expect(folder.code).toBe('INVALID_CONFIG');
    expect(folder.message).toMatch(/photos is not empty and is not a Graft model directory \(no graft\.json\).*cats/);
    await mkdir(join(root, 'model'));
    await writeFile(join(root, 'model', 'graft.json'), '{}');
    expect((await refusal(assertReplaceableOutput(join(root, 'model'), LAYERS_DIR_OUTPUT))).message).toMatch(/not a TF\.js model folder/);
    // The data inside the output (the output an ancestor of it, or the data itself) is refused even when empty.
    expect((await refusal(assertReplaceableOutput(root, MODEL_DIR_OUTPUT, [join(root, 'photos', 'cats')]))).message).toMatch(/holds .*cats, which this run reads/);
    // Training's output inside its dataset folder would be a class of the next run; beside a manifest it is fine.
    const inside = join(root, 'photos', 'model');
    expect((await refusal(assertReplaceableOutput(inside, MODEL_DIR_OUTPUT, [join(root, 'photos')], { outsideFolders: true }))).message).toMatch(/is inside .*photos, which this run reads/);
    await expect(assertReplaceableOutput(inside, MODEL_DIR_OUTPUT, [join(root, 'photos')])).resolves.toBeUndefined();
    await expect(assertReplaceableOutput(join(root, 'model'), MODEL_DIR_OUTPUT, [join(root, 'notes.txt')], { outsideFolders: true })).resolves.toBeUndefined();
  });

  it('refuses, before any work, an output under a path that is a file (it failed at the end as an internal error)', async () => {
    const root = await tempDir();
    const file = join(root, 'afile');
    await writeFile(file, 'x');
    for (const check of [
      () => assertReplaceableOutput(join(file, 'm'), MODEL_DIR_OUTPUT),
      () => assertReplaceableOutput(join(file, 'deeper', 'm'), MODEL_DIR_OUTPUT),
      () => assertOverwriteAllowed(join(file, 'web'), true),
      () => assertWritableFile(join(file, 'f.parquet'), 'the Parquet export', '.parquet'),
    ]) {
      expect(await refusal(check())).toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringContaining(`${file} is a file, not a folder`) });
    }
    // Folders that do not exist yet on the way are fine: they are created.
    await expect(assertReplaceableOutput(join(root, 'a', 'b', 'm'), MODEL_DIR_OUTPUT)).resolves.toBeUndefined();
  });

  it('stops train() before any work, leaving the folder as it was', async () => {
    const root = await tempDir();
    await mkdir(join(root, 'data', 'a'), { recursive: true });
    await mkdir(join(root, 'data', 'b'));
    await writeFile(join(root, 'data', 'a', 'x.jpg'), 'not read');
    await writeFile(join(root, 'data', 'b', 'y.jpg'), 'not read');
    const error = await refusal(train({ train: join(root, 'data'), out: join(root, 'data'), backbone: 'no-such-backbone' }));
    expect(error.message).toMatch(/which this run reads/);
    expect((await readdir(join(root, 'data'))).sort()).toEqual(['a', 'b']);
    await writeFile(join(root, 'essay.txt'), 'keep');
    await mkdir(join(root, 'project'));
    await writeFile(join(root, 'project', 'essay.txt'), 'keep');
    expect((await refusal(train({ train: join(root, 'data'), out: join(root, 'project'), backbone: 'no-such-backbone' }))).code).toBe('INVALID_CONFIG');
    expect(await readdir(join(root, 'project'))).toEqual(['essay.txt']);
  });
});
