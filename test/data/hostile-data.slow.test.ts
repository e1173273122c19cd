import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectDataset } from '../../src/data/inspect.js';
import { scanImageFolder } from '../../src/data/scan-folder.js';
import { writeSyntheticDataset, type SyntheticDataset } from '../../src/data/synthetic.js';
import { train } from '../../src/recipes/train.js';
import type { ProgressEvent } from '../../src/core/progress.js';
import { parseJsonOutput, runCli, tempDir } from '../support.js';

// Issue 9, problem 3: a symlink loop inflated eight images to 3,608, labelled files through the loop with the
// wrong class and put the same images in train and val, and training reported 0.954 without a warning.
describe('datasets that cannot lie', () => {
  let root: string;
  let data: SyntheticDataset;
  beforeAll(async () => {
    root = await tempDir('graft-hostile-data-');
    data = await writeSyntheticDataset(join(root, 'shapes'), { perClass: 6 }); // 4 train images per class
  });
  afterAll(async () => rm(root, { recursive: true, force: true }));

  /** A folder with two classes of four real images each: eight images. */
  async function eightImages(name: string): Promise<string> {
    const dir = join(root, name);
    for (const label of ['circles', 'squares']) await cp(join(data.trainDir, label), join(dir, label), { recursive: true });
    return dir;
  }

  it('a symlink loop (ln -s .. a/loop_up) adds nothing and mislabels nothing', async () => {
    const dir = await eightImages('loop');
    await symlink('..', join(dir, 'circles', 'loop_up'));
    await symlink('.', join(dir, 'squares', 'self'));
    const ds = await scanImageFolder(dir);
    expect(ds.items).toHaveLength(8);
    for (const item of ds.items) expect(item.file.startsWith(join(dir, item.label))).toBe(true);
    expect(ds.items.every((item) => !item.file.includes('loop_up') && !item.file.includes('self'))).toBe(true);
    expect(ds.skipped.map((s) => [s.file.slice(dir.length), s.reason.split(' (')[0]])).toEqual(
      expect.arrayContaining([['/circles/loop_up', 'symbolic link to a folder outside its class folder'], ['/squares/self', 'symbolic link to a folder already listed']]),
    );
  });

  it('never labels a file through a link into another class, and lists a linked sub-folder once', async () => {
    const dir = await eightImages('cross');
    await symlink(join(dir, 'squares'), join(dir, 'circles', 'more'));
    await mkdir(join(dir, 'circles', 'nested'));
    await cp(data.files.find((f) => f.includes('/val/circles/'))!, join(dir, 'circles', 'nested', 'extra.jpg'));
    await symlink('nested', join(dir, 'circles', 'nested-again'));
    // A link to one image file is followed: the image is where the user put the link.
    await symlink(data.files.find((f) => f.includes('/val/squares/'))!, join(dir, 'squares', 'linked.jpg'));
    const ds = await scanImageFolder(dir);
    const count = (label: string) => ds.items.filter((i) => i.label === label).length;
    expect({ circles: count('circles'), squares: count('squares') }).toEqual({ circles: 5, squares: 5 });
    expect(ds.skipped.map((s) => s.file.slice(dir.length))).toEqual(expect.arrayContaining(['/circles/more', '/circles/nested-again']));
  });

  it('refuses class folders that are the same folder through a link', async () => {
    const dir = await eightImages('alias');
    await symlink(join(dir, 'circles'), join(dir, 'rounds'));
    await expect(scanImageFolder(dir)).rejects.toMatchObject({ code: 'INVALID_DATASET', message: expect.stringMatching(/"circles" and "rounds" .* the same folder/) });
    const outer = await eightImages('outer');
    await symlink(outer, join(outer, 'circles', 'up'));
    await symlink(join(outer, 'circles'), join(outer, 'everything'));
    // "everything" is circles itself; circles/up points at the dataset root, outside the class: skipped.
    await expect(scanImageFolder(outer)).rejects.toMatchObject({ code: 'INVALID_DATASET' });
  });

  it('still reads a class folder that is itself a link to another disk', async () => {
    const dir = join(root, 'linked-classes');
    await mkdir(dir, { recursive: true });
    const elsewhere = await tempDir('graft-elsewhere-');
    try {
      await cp(join(data.trainDir, 'circles'), join(elsewhere, 'circles'), { recursive: true });
      await symlink(join(elsewhere, 'circles'), join(dir, 'circles'));
      await cp(join(data.trainDir, 'squares'), join(dir, 'squares'), { recursive: true });
      expect((await scanImageFolder(dir)).items).toHaveLength(8);
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it('refuses a class none of whose images can be read, with --c too (the model would have an untaught output)', async () => {
    const dir = await eightImages('unreadable-class');
    await mkdir(join(dir, 'wasps'));
    await writeFile(join(dir, 'wasps', 'empty.jpg'), '');
    await writeFile(join(dir, 'wasps', 'text.jpg'), 'not a picture');
    for (const config of [{}, { c: 1, mirror: 'on' as const, tta: 'on' as const }]) {
      const out = join(root, `unreadable-model-${Object.keys(config).length}`);
      const error = await train({ train: dir, backbone: 'nsfwjs_mobilenet_v2', out, cacheDir: join(tmpdir(), 'graft-web-tests-cache'), offline: true, config }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'INVALID_DATASET' });
      expect((error as Error).message).toMatch(/No training image of class "wasps" could be read \(2 files of "wasps" skipped: .*empty\.jpg: /);
      expect(existsSync(out)).toBe(false);
    }
    // A class whose files all lie outside the folders allowed to be read (the dashboard's data roots): named, with why.
    const elsewhere = await tempDir('graft-outside-');
    try {
      await writeFile(join(elsewhere, 'a.jpg'), await readFile(join(dir, 'circles', (await readdir(join(dir, 'circles')))[0]!)));
      await rm(join(dir, 'wasps'), { recursive: true });
      await mkdir(join(dir, 'wasps'));
      await symlink(join(elsewhere, 'a.jpg'), join(dir, 'wasps', 'a.jpg'));
      const error = await train({ train: dir, backbone: 'nsfwjs_mobilenet_v2', out: join(root, 'confined-model'), cacheDir: join(tmpdir(), 'graft-web-tests-cache'), offline: true, confineTo: [dir] }).catch((e: unknown) => e);
      expect((error as Error).message).toMatch(/No training image of class "wasps" could be read \(1 file of "wasps" skipped: .*wasps\/a\.jpg: .*outside/);
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it('says nothing of duplicates or class sizes about files that cannot be read (copies of a truncated JPEG, empty files)', async () => {
    const dir = await eightImages('unreadable-copies');
    const first = (await readdir(join(dir, 'squares'))).find((f) => f.endsWith('.jpg'))!;
    const truncated = (await readFile(join(dir, 'squares', first))).subarray(0, 300);
    for (let i = 0; i < 5; i++) await writeFile(join(dir, 'squares', `failed-download-${i}.jpg`), truncated);
    for (let i = 0; i < 2; i++) await writeFile(join(dir, 'squares', `empty-${i}.jpg`), '');
    const events: ProgressEvent[] = [];
    await train({ train: dir, backbone: 'nsfwjs_mobilenet_v2', out: join(root, 'unreadable-model'), cacheDir: join(tmpdir(), 'graft-web-tests-cache'), offline: true, valSplit: 0, onProgress: (e) => events.push(e) });
    expect(events.filter((e) => e.type === 'skip')).toHaveLength(7);
    // 4 circles against 4 readable squares (11 listed): no duplicates, no "class sizes differ".
    expect(events.filter((e) => e.type === 'duplicates')).toEqual([]);
    expect(events.filter((e) => e.type === 'info' && /class sizes differ/.test(e.message))).toEqual([]);
  });

  it('finds exact duplicates across train and val: train warns (an event the CLI prints), inspect lists them', async () => {
    const dir = join(root, 'dupes');
    await cp(data.root, dir, { recursive: true });
    const trainCircle = join(dir, data.files.find((f) => f.includes('/train/circles/') && f.endsWith('.jpg'))!.slice(data.root.length));
    await cp(trainCircle, join(dir, 'val', 'circles', 'copy-of-a-train-image.jpg'));
    await cp(trainCircle, join(dir, 'train', 'squares', 'same-image-other-label.jpg'));

    const summary = await inspectDataset(dir);
    expect(summary.duplicates).toHaveLength(1);
    expect(summary.duplicates[0]).toMatchObject({ isAcrossSplits: true, hasConflictingLabels: true });
    expect(summary.duplicates[0]!.files.map((f) => `${f.part}/${f.label}`).sort()).toEqual(['train/circles', 'train/squares', 'val/circles']);
    expect(summary.warnings.join('\n')).toMatch(/in both train and val/);

    const events: ProgressEvent[] = [];
    await train({ train: dir, backbone: 'nsfwjs_mobilenet_v2', out: join(root, 'dupes-model'), cacheDir: join(tmpdir(), 'graft-web-tests-cache'), offline: true, config: { epochs: 2 }, onProgress: (e) => events.push(e) });
    const warning = events.find((e) => e.type === 'duplicates');
    expect(warning?.type === 'duplicates' && warning.groups[0]!.isAcrossSplits).toBe(true);

    const cli = await runCli(['inspect', dir, '--json']);
    expect(cli.code, cli.stderr).toBe(0);
    expect(parseJsonOutput<{ duplicates: unknown[] }>(cli).duplicates).toHaveLength(1);
    const text = await runCli(['inspect', dir]);
    expect(text.stdout).toMatch(/same image \(train and val, different labels\)/);
    // Every file is decoded to check it: the progress goes to stderr (lines when piped), and not with --json piped.
    expect(text.stderr).toMatch(/^ {2}checked (\d+)\/\1 files \(\d+ files\/s\)$/m);
    expect(cli.stderr).not.toContain('checked');
  });
});
