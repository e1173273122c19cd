import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GraftError } from '../../src/core/errors.js';
import { assertOverwriteAllowed, assertReplaceableOutput, assertWritableFile, LAYERS_DIR_OUTPUT, MODEL_DIR_OUTPUT, TEACHABLE_MACHINE_OUTPUT, WEB_EXPORT_OUTPUT } from '../../src/core/replaceable-output.js';
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
      () => assertOverwriteAllowed(join(file, 'web'), true, WEB_EXPORT_OUTPUT),
      () => assertWritableFile(join(file, 'f.parquet'), 'the Parquet export', '.parquet'),
    ]) {
      expect(await refusal(check())).toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringContaining(`${file} is a file, not a folder`) });
    }
    // Folders that do not exist yet on the way are fine: they are created.
    await expect(assertReplaceableOutput(join(root, 'a', 'b', 'm'), MODEL_DIR_OUTPUT)).resolves.toBeUndefined();
  });

  it("an export's --overwrite replaces only an earlier export: not the working directory, nor a folder holding the model", async () => {
    const root = await tempDir();
    await writeFile(join(root, 'notes.txt'), 'keep');
    await mkdir(join(root, 'model'));
    await writeFile(join(root, 'model', 'graft.json'), '{}');
    // Before, --overwrite let any folder go: `graft export m --to web --out . --overwrite` emptied the working directory.
    const notExport = await refusal(assertOverwriteAllowed(root, true, WEB_EXPORT_OUTPUT));
    expect(notExport).toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringContaining('is not empty and is not a web export (no model.json)') });
    expect((await refusal(assertOverwriteAllowed(root, false, WEB_EXPORT_OUTPUT))).message).toContain('exists and is not empty');
    await writeFile(join(root, 'model.json'), '{}');
    expect((await refusal(assertOverwriteAllowed(root, true, LAYERS_DIR_OUTPUT, [join(root, 'model')]))).message).toMatch(/holds .*model, which this run reads/);
    // An earlier export of the kind, an empty folder and a new one may be written.
    const earlier = join(root, 'earlier-tm');
    await mkdir(earlier);
    await writeFile(join(earlier, 'metadata.json'), '{}');
    await expect(assertOverwriteAllowed(earlier, true, TEACHABLE_MACHINE_OUTPUT, [join(root, 'model')])).resolves.toBeUndefined();
    await expect(assertOverwriteAllowed(join(root, 'new'), false, TEACHABLE_MACHINE_OUTPUT)).resolves.toBeUndefined();
    expect((await readdir(root)).sort()).toEqual(['earlier-tm', 'model', 'model.json', 'notes.txt']);
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
