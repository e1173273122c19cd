import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inspectDataset } from '../../src/data/inspect.js';
import { scanImageFolder } from '../../src/data/scan-folder.js';

/** A set split three ways (train/, valid/, test/), each file's bytes its own path unless `copies` says otherwise. */
async function threeWaySet(copies: Record<string, string> = {}): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'graft-inspect-split-'));
  const files = ['train/a/1.jpg', 'train/a/2.jpg', 'train/b/1.jpg', 'train/b/2.jpg', 'valid/a/3.jpg', 'valid/b/3.jpg', 'test/a/4.jpg', 'test/c/4.jpg'];
  for (const file of [...files, ...Object.keys(copies)]) {
    await mkdir(join(root, file, '..'), { recursive: true });
    await writeFile(join(root, file), copies[file] ?? file);
  }
  return root;
}

describe('inspectDataset on a set split three ways', () => {
  it('lists the test/ part training does not use, with its own class checks', async () => {
    const root = await threeWaySet();
    const summary = await inspectDataset(root, { checkDecode: false });
    expect(summary.parts.map((p) => [p.name, p.root, p.imageCount])).toEqual([
      ['train', join(root, 'train'), 4],
      ['val', join(root, 'valid'), 2],
      ['test', join(root, 'test'), 2],
    ]);
    expect(summary.warnings).toContain('test has classes that train does not: c (graft eval will refuse this)');
    expect(summary.warnings).toContain('test has no images of: b');
  });

  it('class names in two Unicode forms: one class across parts, refused within one; case-only names are warned of', async () => {
    const [nfc, nfd] = ['caf\u00e9', 'cafe\u0301'];
    const root = await mkdtemp(join(tmpdir(), 'graft-inspect-names-'));
    for (const file of [`train/${nfc}/1.jpg`, 'train/tea/1.jpg', 'train/Tea/1.jpg', `test/${nfd}/2.jpg`, 'test/tea/2.jpg', 'test/Tea/2.jpg']) {
      await mkdir(join(root, file, '..'), { recursive: true });
      await writeFile(join(root, file), file);
    }
    const summary = await inspectDataset(root, { checkDecode: false });
    // Training and eval match NFD "café" in test/ to NFC "café" in train/: inspect no longer says eval will refuse it.
    expect(summary.warnings.filter((w) => w.includes('caf') && !w.includes('usable image'))).toEqual([]);
    expect(summary.warnings).toContain('train: classes "Tea" and "tea" differ only in case: they are two classes');
    expect(summary.warnings.join('\n')).not.toMatch(/has classes that train does not|has no images of/);

    const both = await mkdtemp(join(tmpdir(), 'graft-inspect-names-'));
    for (const file of [`${nfc}/1.jpg`, `${nfd}/2.jpg`, 'tea/3.jpg']) {
      await mkdir(join(both, file, '..'), { recursive: true });
      await writeFile(join(both, file), file);
    }
    expect((await inspectDataset(both, { checkDecode: false })).warnings.join('\n')).toMatch(/classes "caf.+" and "caf.+" are one name in two Unicode forms: training refuses them/);
    await expect(scanImageFolder(both)).rejects.toMatchObject({ code: 'INVALID_DATASET', message: expect.stringContaining('the same name in two Unicode forms') });
  });

  it('finds an image in both train and test: a test score that includes training images', async () => {
    const root = await threeWaySet({ 'test/a/copy.jpg': 'train/a/1.jpg' });
    const summary = await inspectDataset(root, { checkDecode: false });
    expect(summary.duplicates).toHaveLength(1);
    expect(summary.duplicates[0]).toMatchObject({ isAcrossSplits: true, hasConflictingLabels: false });
    expect(summary.duplicates[0]!.files.map((f) => `${f.part}/${f.label}`)).toEqual(['train/a', 'test/a']);
    expect(summary.warnings.join('\n')).toMatch(/1 of them in both train and test: test then scores images the model trained on/);
  });

  it('reports what training would refuse (an empty class folder, a single class) among its warnings, not as an error', async () => {
    const root = await threeWaySet({ 'train/notes/readme.txt': 'not an image' });
    const summary = await inspectDataset(root, { checkDecode: false });
    expect(summary.parts[0]!.classes.find((c) => c.label === 'notes')).toMatchObject({ count: 0 });
    expect(summary.parts[0]!.skipped.map((s) => s.file)).toContain(join(root, 'train/notes/readme.txt'));
    expect(summary.warnings).toContain('train: class folder "notes" has no images: training refuses it; add images or remove the folder');
    const one = await mkdtemp(join(tmpdir(), 'graft-inspect-one-'));
    await mkdir(join(one, 'ants'));
    await writeFile(join(one, 'ants', '1.jpg'), 'x');
    expect((await inspectDataset(one, { checkDecode: false })).warnings).toContain('1 class with images: training needs at least 2');
  });
});
