import { lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeDirectoryStaged } from '../../src/core/atomic-write.js';
import { LAYERS_DIR_OUTPUT, MODEL_DIR_OUTPUT, TEACHABLE_MACHINE_OUTPUT, WEB_EXPORT_OUTPUT } from '../../src/core/replaceable-output.js';
import { HEAD_WEIGHTS_FILE, MANIFEST_FILE, ONNX_FILE } from '../../src/model/manifest.js';
import { ORT_WEB_FILES, TFJS_MODEL_DIR, TFJS_WEB_FILES } from '../../src/web/export-web.js';
import { tempDir } from '../support.js';

/** An earlier model directory that the user keeps in git, with a model card and a link to it. */
async function userModelDir(root: string): Promise<string> {
  const dest = join(root, 'model');
  await mkdir(join(dest, '.git', 'objects', 'ab'), { recursive: true });
  await writeFile(join(dest, '.git', 'HEAD'), 'ref: refs/heads/main\n');
  await writeFile(join(dest, '.git', 'objects', 'ab', 'cdef'), 'blob');
  await chmod(join(dest, '.git', 'objects'), 0o750);
  await writeFile(join(dest, 'README.md'), '# Bees and ants\n');
  await symlink('README.md', join(dest, 'MODEL_CARD.md'));
  for (const name of [MANIFEST_FILE, HEAD_WEIGHTS_FILE, ONNX_FILE]) await writeFile(join(dest, name), 'old');
  return dest;
}

describe('a new version of an output folder keeps what the user added to the old one', () => {
  it('carries the user\'s files, folders and links; replaces Graft\'s own, and drops those the new version no longer writes', async () => {
    const dest = await userModelDir(await tempDir());
    // The new version writes no head.bin (an earlier run's file): it must not survive as a stale file.
    await writeDirectoryStaged(dest, 'staging', async (staging) => {
      await writeFile(join(staging, MANIFEST_FILE), 'new');
      await writeFile(join(staging, ONNX_FILE), 'new');
    }, { owns: MODEL_DIR_OUTPUT.owns });
    expect(readdirSync(dest).sort()).toEqual(['.git', 'MODEL_CARD.md', 'README.md', MANIFEST_FILE, ONNX_FILE].sort());
    expect(readFileSync(join(dest, MANIFEST_FILE), 'utf8')).toBe('new');
    expect(readFileSync(join(dest, 'README.md'), 'utf8')).toBe('# Bees and ants\n');
    expect(readFileSync(join(dest, '.git', 'objects', 'ab', 'cdef'), 'utf8')).toBe('blob');
    expect(statSync(join(dest, '.git', 'objects')).mode & 0o777).toBe(0o750);
    expect(lstatSync(join(dest, 'MODEL_CARD.md')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(dest, 'MODEL_CARD.md'))).toBe('README.md');
    // Nothing beside it: the old version and the staging folder are gone.
    expect(readdirSync(join(dest, '..'))).toEqual(['model']);
  });

  it('a write that fails leaves the old version whole, the user\'s files with it', async () => {
    const dest = await userModelDir(await tempDir());
    const failing = writeDirectoryStaged(dest, 'staging', async (staging) => {
      await writeFile(join(staging, MANIFEST_FILE), 'new');
      throw new Error('disk full');
    }, { owns: MODEL_DIR_OUTPUT.owns });
    await expect(failing).rejects.toThrow('disk full');
    expect(readdirSync(dest).sort()).toEqual(['.git', 'MODEL_CARD.md', 'README.md', HEAD_WEIGHTS_FILE, MANIFEST_FILE, ONNX_FILE].sort());
    expect(readFileSync(join(dest, MANIFEST_FILE), 'utf8')).toBe('old');
    expect(readFileSync(join(dest, '.git', 'HEAD'), 'utf8')).toBe('ref: refs/heads/main\n');
    expect(readdirSync(join(dest, '..'))).toEqual(['model']);
  });

  it('without `owns` the folder is replaced whole (a writer\'s own working folders)', async () => {
    const dest = await userModelDir(await tempDir());
    await writeDirectoryStaged(dest, 'staging', async (staging) => writeFile(join(staging, MANIFEST_FILE), 'new'));
    expect(readdirSync(dest)).toEqual([MANIFEST_FILE]);
  });
});

describe('what each kind of output owns', () => {
  it('every name the web export writes, whichever engine, and nothing a user would add', () => {
    for (const name of ['index.html', 'classify.js', 'model.json', 'model.onnx', TFJS_MODEL_DIR, ...ORT_WEB_FILES, ...TFJS_WEB_FILES]) {
      expect(WEB_EXPORT_OUTPUT.owns(name), name).toBe(true);
    }
    for (const name of ['style.css', 'logo.png', 'README.md', '.git', 'about.html']) expect(WEB_EXPORT_OUTPUT.owns(name), name).toBe(false);
  });

  it('a TF.js model\'s weight shards whatever their names, and Teachable Machine\'s metadata', () => {
    for (const name of ['model.json', 'graft-model.json', 'weights.bin', 'group1-shard1of3.bin']) expect(LAYERS_DIR_OUTPUT.owns(name), name).toBe(true);
    expect(TEACHABLE_MACHINE_OUTPUT.owns('metadata.json')).toBe(true);
    expect(TEACHABLE_MACHINE_OUTPUT.owns('weights.bin')).toBe(true);
    for (const kind of [LAYERS_DIR_OUTPUT, TEACHABLE_MACHINE_OUTPUT, MODEL_DIR_OUTPUT]) expect(kind.owns('README.md')).toBe(false);
    for (const name of [MANIFEST_FILE, HEAD_WEIGHTS_FILE, ONNX_FILE]) expect(MODEL_DIR_OUTPUT.owns(name), name).toBe(true);
  });
});
