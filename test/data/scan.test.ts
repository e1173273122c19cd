import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GraftError } from '../../src/core/errors.js';
import { scanCsv } from '../../src/data/scan-csv.js';
import { scanDataset } from '../../src/data/scan-dataset.js';
import { inspectDataset } from '../../src/data/inspect.js';
import { listImageFiles, scanImageFolder } from '../../src/data/scan-folder.js';
import { EVAL_FOLDER_NAMES, findSplitFolders, unusedTestFolder } from '../../src/data/find-split-folders.js';
import { prepareData, valSplitGroups } from '../../src/learn/prepare-data.js';
import { evaluateModel } from '../../src/model/evaluate-model.js';
import type { GraftModel } from '../../src/model/graft-model.js';
import { expectDatasetError, tree } from './dataset-trees.js';

describe('scanImageFolder', () => {
  it('lists classes sorted, filters extensions case-insensitively, ignores hidden files, counts the rest', async () => {
    const root = await tree({
      'dogs/b.JPG': 'x',
      'dogs/a.jpeg': 'x',
      'dogs/nested/c.webp': 'x',
      'cats/1.png': 'x',
      'cats/2.TIFF': 'x',
      'cats/3.jfif': 'x',
      'cats/4.BMP': 'x',
      'cats/notes.txt': 'x',
      'cats/.DS_Store': 'x',
      '.hidden/3.jpg': 'x',
      'README.md': 'x',
      // A zip made on a Mac, and a Synology NAS's thumbnails: tool clutter, not a class or extra images.
      '__MACOSX/cats/._1.png': 'x',
      'dogs/@eaDir/a.jpeg/SYNOPHOTO_THUMB_M.jpg': 'x',
    });
    const ds = await scanImageFolder(root);
    expect(ds.root).toBe(root);
    expect(ds.labels).toEqual(['cats', 'dogs']);
    expect(ds.items.map((i) => [i.file.slice(root.length + 1), i.label])).toEqual([
      ['cats/1.png', 'cats'],
      ['cats/2.TIFF', 'cats'],
      ['cats/3.jfif', 'cats'],
      ['cats/4.BMP', 'cats'],
      ['dogs/a.jpeg', 'dogs'],
      ['dogs/b.JPG', 'dogs'],
      ['dogs/nested/c.webp', 'dogs'],
    ]);
    expect(ds.skipped).toEqual(
      expect.arrayContaining([
        { file: join(root, 'cats/notes.txt'), reason: 'not an image file extension' },
        { file: join(root, 'README.md'), reason: 'not inside a class folder' },
      ]),
    );
    expect(ds.skipped).toHaveLength(2);
  });

  it("sorts a class's files in UTF-8 byte order, as a feature store merges its rows (an emoji after a full-width mark)", async () => {
    const root = await tree({ 'a/x\u{1F600}1.jpg': 'x', 'a/x\uFF011.jpg': 'x', 'a/xb.jpg': 'x', 'b/1.jpg': 'x' });
    const names = (await scanImageFolder(root)).items.filter((i) => i.label === 'a').map((i) => i.file.slice(root.length + 3));
    expect(names).toEqual(['xb.jpg', 'x\uFF011.jpg', 'x\u{1F600}1.jpg']);
  });

  it('rejects a missing folder, naming it', async () => {
    const missing = join(tmpdir(), 'graft-does-not-exist-xyz');
    await expectDatasetError(scanImageFolder(missing), /not found: .*graft-does-not-exist-xyz/);
  });

  it('rejects a file passed as the folder', async () => {
    const root = await tree({ 'a.jpg': 'x' });
    await expectDatasetError(scanImageFolder(join(root, 'a.jpg')), /not a folder/);
  });

  it('rejects a folder of loose images and shows the expected layout', async () => {
    const root = await tree({ 'a.jpg': 'x', 'b.jpg': 'x' });
    await expectDatasetError(scanImageFolder(root), /No class subfolders/, /one subfolder per class[\s\S]*cats\//);
  });

  it('rejects a class folder without images, naming it', async () => {
    const root = await tree({ 'cats/a.jpg': 'x', 'dogs/readme.txt': 'x' });
    await expectDatasetError(scanImageFolder(root), /"dogs" has no images/);
  });

  it('rejects a single class', async () => {
    const root = await tree({ 'cats/a.jpg': 'x' });
    await expectDatasetError(scanImageFolder(root), /Only one class \("cats"\).*at least two/);
  });
});

describe('listImageFiles (graft predict <folder>)', () => {
  it('lists the images under a folder and its sub-folders, sorted; hidden files passed over, others skipped', async () => {
    const root = await tree({ 'b.jpg': 'x', 'a.PNG': 'x', 'sub/c.webp': 'x', 'notes.txt': 'x', '.DS_Store': 'x', '.cache/d.jpg': 'x' });
    const { files, skipped } = await listImageFiles(root);
    expect(files.map((f) => f.slice(root.length + 1))).toEqual(['a.PNG', 'b.jpg', 'sub/c.webp']);
    expect(skipped).toEqual([{ file: join(root, 'notes.txt'), reason: 'not an image file extension' }]);
  });

  it('lists a folder reached by a link too under its own path, and skips the link, whichever readdir gives first', async () => {
    // Eight pairs, so that in any directory order some link comes before the folder it leads to.
    const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    const root = await tree(Object.fromEntries(names.map((n) => [`real-${n}/${n}.jpg`, 'x'])));
    for (const n of names) await symlink(`real-${n}`, join(root, `${n}-link`));
    const { files, skipped } = await listImageFiles(root);
    expect(files.map((f) => f.slice(root.length + 1))).toEqual(names.map((n) => `real-${n}/${n}.jpg`));
    expect(skipped.map((s) => s.file.slice(root.length + 1)).sort()).toEqual(names.map((n) => `${n}-link`));
    expect(new Set(skipped.map((s) => s.reason))).toEqual(new Set(['symbolic link to a folder already listed (a loop or a second path); not followed']));
  });
});

describe('scanCsv', () => {
  it('reads path,label lines with a header, quotes and relative paths; missing files are skipped', async () => {
    const root = await tree({ 'img/a.jpg': 'x', 'img/b, with comma.jpg': 'x', 'img/c.png': 'x' });
    const csv = join(root, 'labels.csv');
    await writeFile(csv, 'path,label\r\nimg/a.jpg,cat\n"img/b, with comma.jpg","dog, big"\n\nimg/c.png,cat\nimg/missing.jpg,dog\n');
    const ds = await scanCsv(csv);
    expect(ds.labels).toEqual(['cat', 'dog, big']);
    expect(ds.items).toEqual([
      { file: join(root, 'img/a.jpg'), label: 'cat' },
      { file: join(root, 'img/b, with comma.jpg'), label: 'dog, big' },
      { file: join(root, 'img/c.png'), label: 'cat' },
    ]);
    expect(ds.skipped).toEqual([{ file: join(root, 'img/missing.jpg'), reason: 'file not found' }]);
    expect((await scanDataset(csv)).items).toHaveLength(3);
  });

  it('rejects a malformed line with its number', async () => {
    const root = await tree({ 'a.jpg': 'x' });
    const csv = join(root, 'l.csv');
    await writeFile(csv, 'a.jpg,cat\na.jpg\n');
    await expectDatasetError(scanCsv(csv), /Line 2 .*not "path,label"/);
  });

  it('takes the path and label columns a header names, as Keras and labelling tools write them', async () => {
    const root = await tree({ 'img/a.jpg': 'x', 'img/b.jpg': 'x' });
    const keras = join(root, 'keras.csv');
    await writeFile(keras, 'Filename,Class\r\nimg/a.jpg,cat\r\nimg/b.jpg,dog\r\n');
    const fromKeras = await scanCsv(keras);
    expect(fromKeras.items).toEqual([
      { file: join(root, 'img/a.jpg'), label: 'cat' },
      { file: join(root, 'img/b.jpg'), label: 'dog' },
    ]);
    expect(fromKeras.skipped).toEqual([]); // the header is not a missing file
    // Extra columns are ignored, wherever the named ones stand; "Image Path" is image_path.
    const wide = join(root, 'wide.csv');
    await writeFile(wide, 'id,Image Path,species,source\n7,"img/a.jpg",cat,web\n8,img/b.jpg,"dog, big",phone\n');
    const ds = await scanCsv(wide);
    expect(ds.labels).toEqual(['cat', 'dog, big']);
    expect(ds.items.map((item) => item.file)).toEqual([join(root, 'img/a.jpg'), join(root, 'img/b.jpg')]);
    // Label Studio's CSV export of its image classification template: the class under "choice", among its own columns.
    const labelStudio = join(root, 'label-studio.csv');
    await writeFile(labelStudio, 'annotation_id,annotator,choice,created_at,id,image,lead_time,updated_at\n1,1,cat,2026-12-01T10:00:00Z,11,img/a.jpg,3.2,2026-12-01T10:00:03Z\n2,1,dog,2026-12-01T10:00:05Z,12,img/b.jpg,1.9,2026-12-01T10:00:07Z\n');
    expect((await scanCsv(labelStudio)).items).toEqual([
      { file: join(root, 'img/a.jpg'), label: 'cat' },
      { file: join(root, 'img/b.jpg'), label: 'dog' },
    ]);
    // A manifest written on Windows: its relative paths use backslashes.
    const windows = join(root, 'windows.csv');
    await writeFile(windows, 'filename,class\r\nimg\\a.jpg,cat\r\nimg\\b.jpg,dog\r\n');
    expect((await scanCsv(windows)).items.map((item) => item.file)).toEqual([join(root, 'img/a.jpg'), join(root, 'img/b.jpg')]);
    // A row that does not have the header's fields is named by its line.
    const short = join(root, 'short.csv');
    await writeFile(short, 'id,filename,label\n1,img/a.jpg,cat\n2,img/b.jpg\n');
    await expectDatasetError(scanCsv(short), /Line 3 .*header's 3 fields/);
  });

  it('rejects a first row of more than two fields that names no path and label column', async () => {
    const root = await tree({ 'a.jpg': 'x' });
    const csv = join(root, 'l.csv');
    await writeFile(csv, 'id,x,y\n1,a.jpg,cat\n');
    await expectDatasetError(scanCsv(csv), /Line 1 .*3 fields.*not a header/, /header: name the image column path, filename/);
  });

  it("reads a header naming its path column and one other, whatever that other's name (Kaggle's id_code,diagnosis)", async () => {
    const root = await tree({ 'a.jpg': 'x', 'b.jpg': 'x' });
    const csv = join(root, 'train.csv');
    await writeFile(csv, 'id_code,diagnosis\na.jpg,0\nb.jpg,2\nsub,2\n');
    await mkdir(join(root, 'sub'));
    const scanned = await scanCsv(csv);
    expect(scanned.items).toEqual([
      { file: join(root, 'a.jpg'), label: '0' },
      { file: join(root, 'b.jpg'), label: '2' },
    ]);
    expect(scanned.skipped).toEqual([{ file: join(root, 'sub'), reason: 'a folder, not an image file' }]);
  });

  it('reads JSON Lines under the same key names', async () => {
    const root = await tree({ 'a.jpg': 'x', 'b.jpg': 'x' });
    const jsonl = join(root, 'l.jsonl');
    await writeFile(jsonl, '{"filename": "a.jpg", "class": "cat", "id": 1}\n{"path": "b.jpg", "label": "dog"}\n');
    expect((await scanCsv(jsonl)).items).toEqual([
      { file: join(root, 'a.jpg'), label: 'cat' },
      { file: join(root, 'b.jpg'), label: 'dog' },
    ]);
    await writeFile(jsonl, '{"file": "a.jpg"}\n');
    await expectDatasetError(scanCsv(jsonl), /Line 1 .*has no label for a\.jpg/, /its class under "label" or "class"/);
    await writeFile(jsonl, '{"label": "cat"}\n');
    await expectDatasetError(scanCsv(jsonl), /Line 1 .*not "path,label"/, /JSON object with a string path/);
    // Class ids as numbers (as Hugging Face datasets export them) are class names, as in a CSV.
    await writeFile(jsonl, '{"path": "a.jpg", "label": 0}\n{"path": "b.jpg", "label": 1}\n');
    expect((await scanCsv(jsonl)).labels).toEqual(['0', '1']);
  });

  it('says what is wrong with a UTF-16 manifest (Excel "Unicode text", PowerShell >) and with a row without a label', async () => {
    const root = await tree({ 'a.jpg': 'x', 'b.jpg': 'x' });
    const csv = join(root, 'l.csv');
    await writeFile(csv, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('path,label\r\na.jpg,cat\r\n', 'utf16le')]));
    await expectDatasetError(scanCsv(csv), /l\.csv is UTF-16 text; a manifest is read as UTF-8/, /CSV UTF-8/);
    await writeFile(csv, Buffer.from('a.jpg,cat\nb.jpg,dog\n', 'utf16le'));
    await expectDatasetError(scanCsv(csv), /is UTF-16 text \(or binary\)/);
    await writeFile(csv, 'path,label\na.jpg,cat\nb.jpg,\n');
    await expectDatasetError(scanCsv(csv), /Line 3 of .* has no label for b\.jpg/);
  });

  it('rejects a missing CSV and a CSV with one class', async () => {
    const root = await tree({ 'a.jpg': 'x' });
    await expectDatasetError(scanCsv(join(root, 'nope.csv')), /CSV file not found/);
    const csv = join(root, 'one.csv');
    await writeFile(csv, 'a.jpg,cat\n');
    await expectDatasetError(scanCsv(csv), /Only one class/);
  });
});

describe('labels from file names (--label-pattern)', () => {
  const PETS = '^(.+)_\\d+\\.jpg$';

  it('labels each image by the first capture group on its name; sub-folders too; a name that misses is skipped', async () => {
    const root = await tree({ 'Abyssinian_1.jpg': 'x', 'Abyssinian_12.jpg': 'x', 'great_pyrenees_3.jpg': 'x', 'more/great_pyrenees_4.jpg': 'x', 'odd.jpg': 'x', 'notes.txt': 'x' });
    const ds = await scanDataset(root, { labelPattern: PETS });
    expect(ds.labels).toEqual(['Abyssinian', 'great_pyrenees']);
    expect(ds.items.map((i) => [i.file.slice(root.length + 1), i.label])).toEqual([
      ['Abyssinian_1.jpg', 'Abyssinian'],
      ['Abyssinian_12.jpg', 'Abyssinian'],
      ['great_pyrenees_3.jpg', 'great_pyrenees'],
      ['more/great_pyrenees_4.jpg', 'great_pyrenees'],
    ]);
    expect(ds.skipped).toEqual([
      { file: join(root, 'notes.txt'), reason: 'not an image file extension' },
      { file: join(root, 'odd.jpg'), reason: `the name does not match labelPattern (--label-pattern) ${PETS}` },
    ]);
    // Loose images without the pattern: no class folders, and the error says the pattern exists.
    await expectDatasetError(scanDataset(await tree({ 'cat_1.jpg': 'x' })), /No class subfolders/, /--label-pattern/);
    expect((await inspectDataset(root, { checkDecode: false, labelPattern: PETS })).layout).toBe('file-names');
  });

  it('trains and validates on names alike; refuses one class, no match, a bad pattern and a manifest', async () => {
    const train = await tree({ 'cat_1.jpg': 'x', 'cat_2.jpg': 'x', 'dog_1.jpg': 'x', 'dog_2.jpg': 'x' });
    const val = await tree({ 'dog_9.jpg': 'x' });
    const data = await prepareData({ train, val, seed: 1, labelPattern: PETS });
    expect(data.labels).toEqual(['cat', 'dog']);
    expect(data.val.map((i) => i.label)).toEqual(['dog']); // a validation set of one class is only scored
    await expectDatasetError(scanDataset(val, { labelPattern: PETS }), /reads one class \("dog"\)/);
    await expectDatasetError(scanDataset(train, { labelPattern: '^(\\w+)-\\d+\\.png$' }), /No image name .* matches labelPattern \(--label-pattern\) .*: 4 images \(e.g. "cat_1.jpg"\)/);
    // No capture group: the whole name is the class, so every image is a class of its own.
    await expectDatasetError(scanDataset(train, { labelPattern: '.*' }), /reads a different class from every image name .* \(4 images, 4 classes/);
    // inspect, lenient, lists the four one-image classes; it also says training refuses the pattern.
    expect((await inspectDataset(train, { checkDecode: false, labelPattern: '.*' })).warnings).toContain(
      'labelPattern (--label-pattern) reads a different class from every image name (4 images, 4 classes): training refuses this; put only the class part of the name in the capture group',
    );
    const bad = await scanDataset(train, { labelPattern: '(' }).catch((e: unknown) => e as GraftError);
    expect(bad).toBeInstanceOf(GraftError);
    expect((bad as GraftError).code).toBe('INVALID_CONFIG');
    const csv = join(train, 'list.csv');
    await writeFile(csv, 'cat_1.jpg,cat\n');
    const manifest = await scanDataset(csv, { labelPattern: PETS }).catch((e: unknown) => e as GraftError);
    expect((manifest as GraftError).message).toMatch(/is a manifest/);
  });
});

describe('findSplitFolders', () => {
  it('finds train + val/test folders and nothing in a plain class-folder dataset', async () => {
    const root = await tree({ 'train/a/1.jpg': 'x', 'test/a/1.jpg': 'x' });
    expect(await findSplitFolders(root)).toEqual({ train: join(root, 'train'), val: join(root, 'test') });
    const plain = await tree({ 'a/1.jpg': 'x' });
    expect(await findSplitFolders(plain)).toBeUndefined();
  });

  it('takes a class named "train" (vehicle types) for a class, and a split set with another folder for a split', async () => {
    const vehicles = await tree({ 'bus/1.jpg': 'x', 'car/1.jpg': 'x', 'train/1.jpg': 'x', 'train/2.jpg': 'x', 'truck/1.jpg': 'x' });
    expect(await findSplitFolders(vehicles)).toBeUndefined();
    expect(await findSplitFolders(vehicles, EVAL_FOLDER_NAMES)).toBeUndefined();
    expect((await prepareData({ train: vehicles, seed: 1 })).labels).toEqual(['bus', 'car', 'train', 'truck']);
    // The same classes as the train/ and test/ of a split set: the split is found, and train/ holds the four classes.
    const split = await tree({ 'train/bus/1.jpg': 'x', 'train/train/1.jpg': 'x', 'test/bus/2.jpg': 'x', 'test/train/2.jpg': 'x' });
    expect(await findSplitFolders(split)).toEqual({ train: join(split, 'train'), val: join(split, 'test') });
    expect(await findSplitFolders(join(split, 'train'))).toBeUndefined();
    const withSample = await tree({ 'train/a/1.jpg': 'x', 'train/b/1.jpg': 'x', 'test/a/2.jpg': 'x', 'sample/a/3.jpg': 'x' });
    expect(await findSplitFolders(withSample)).toEqual({ train: join(withSample, 'train'), val: join(withSample, 'test') });
  });

  it('finds split folders whatever their case (Train/ + Test/, train/ + Val/) and refuses split parts read as classes', async () => {
    const capital = await tree({ 'Train/ants/1.jpg': 'x', 'Train/bees/1.jpg': 'x', 'Test/ants/2.jpg': 'x', 'Test/bees/2.jpg': 'x' });
    expect(await findSplitFolders(capital)).toEqual({ train: join(capital, 'Train'), val: join(capital, 'Test') });
    expect((await prepareData({ train: capital, seed: 1 })).labels).toEqual(['ants', 'bees']);
    expect(await unusedTestFolder(capital, undefined)).toBe(join(capital, 'Test'));
    const val = await tree({ 'train/a/1.jpg': 'x', 'train/b/1.jpg': 'x', 'Val/a/2.jpg': 'x', 'Val/b/2.jpg': 'x' });
    expect(await findSplitFolders(val, EVAL_FOLDER_NAMES)).toEqual({ train: join(val, 'train'), val: join(val, 'Val') });
    // A class of trains in capitals, its images one level down, among other vehicles: classes, not a split.
    const vehicles = await tree({ 'Bus/day/1.jpg': 'x', 'Car/day/1.jpg': 'x', 'Train/day/1.jpg': 'x', 'Train/night/2.jpg': 'x' });
    expect(await findSplitFolders(vehicles)).toBeUndefined();
    expect((await prepareData({ train: vehicles, seed: 1 })).labels).toEqual(['Bus', 'Car', 'Train']);
    const parts = await tree({ 'training/a/1.jpg': 'x', 'testing/a/2.jpg': 'x' });
    await expectDatasetError(prepareData({ train: parts, seed: 1 }), /testing\/, training\/: the parts of a split/, /graft train .*training/);
  });

  it('refuses split folders whose names differ only in case (train/ and Train/): one would be left out unread', async () => {
    const both = await tree({ 'train/a/1.jpg': 'x', 'train/b/1.jpg': 'x', 'Train/a/2.jpg': 'x', 'Train/b/2.jpg': 'x', 'test/a/3.jpg': 'x', 'test/b/3.jpg': 'x' });
    await expectDatasetError(prepareData({ train: both, seed: 1 }), /holds train\/ and Train\/, folders whose names differ only in case/, /merge them into one train\/ folder/);
    const tests = await tree({ 'train/a/1.jpg': 'x', 'train/b/1.jpg': 'x', 'test/a/3.jpg': 'x', 'Test/b/3.jpg': 'x' });
    await expectDatasetError(findSplitFolders(tests), /holds test\/ and Test\//);
    await expectDatasetError(unusedTestFolder(tests, undefined), /holds test\/ and Test\//);
  });

  it('--val-split with --group-by holds out whole groups: no held-out frame has a track in training', async () => {
    // GTSRB-like names: class_track_frame, 4 tracks of 5 frames per class.
    const files: Record<string, string> = {};
    for (const c of ['00', '01']) for (let t = 0; t < 4; t++) for (let f = 0; f < 5; f++) files[`${c}/000${c}_0000${t}_0000${f}.png`] = 'x';
    const root = await tree(files);
    const track = (file: string): string => /(\d+_\d+)_\d+\.png$/.exec(file)![1]!;
    for (const seed of [1, 2, 3]) {
      const data = await prepareData({ train: root, valSplit: 0.25, seed, groupBy: '^(\\d+_\\d+)_' });
      const trained = new Set(data.train.map((item) => track(item.file)));
      expect(data.val.length).toBe(10); // one track of 5 per class
      expect(data.val.filter((item) => trained.has(track(item.file)))).toEqual([]);
    }
    // Without it, frames of one track fall on both sides (what the held-out score then flatters).
    const loose = await prepareData({ train: root, valSplit: 0.25, seed: 1 });
    const looseTrained = new Set(loose.train.map((item) => track(item.file)));
    expect(loose.val.some((item) => looseTrained.has(track(item.file)))).toBe(true);
  });

  it('--val-split keeps copies of an image (the same bytes under two names) on one side', async () => {
    const files: Record<string, string> = {};
    for (const c of ['cats', 'dogs']) for (let i = 0; i < 10; i++) files[`${c}/${i}.jpg`] = `${c} ${i}`;
    // Each cat also saved again under another name, as a download folder often has them.
    for (let i = 0; i < 10; i++) files[`cats/${i} (1).jpg`] = `cats ${i}`;
    const root = await tree(files);
    const { createHash } = await import('node:crypto');
    const { readFile } = await import('node:fs/promises');
    const hashFiles = async (paths: readonly string[]) => Promise.all(paths.map(async (p) => createHash('sha256').update(await readFile(p)).digest('hex')));
    const content = async (file: string) => (await readFile(file, 'utf8'));
    for (const seed of [1, 2, 3]) {
      const data = await prepareData({ train: root, valSplit: 0.3, seed, hashFiles });
      const trained = new Set(await Promise.all(data.train.map((item) => content(item.file))));
      const heldOut = await Promise.all(data.val.map((item) => content(item.file)));
      expect(heldOut.filter((text) => trained.has(text))).toEqual([]);
      expect(data.val.filter((item) => item.label === 'cats').length).toBe(6); // 3 images, each with its copy
    }
  });

  it('names a group of copies the same whatever the order of the files (a store lists its rows shard by shard)', () => {
    const files = ['/d/a/1.png', '/d/a/2.png', '/d/a/3.png', '/d/b/4.png'];
    const hashes = ['x', 'y', 'x', 'y'];
    const forward = valSplitGroups(files, undefined, hashes)!;
    const backward = valSplitGroups([...files].reverse(), undefined, [...hashes].reverse())!.reverse();
    expect(forward).toEqual(backward);
    expect(forward).toEqual(['f:/d/a/1.png', 'f:/d/a/2.png', 'f:/d/a/1.png', 'f:/d/a/2.png']);
    expect(valSplitGroups(files, undefined, undefined)).toBeUndefined();
    expect(valSplitGroups(['00_01_1.png', '00_01_2.png'], '^(\\d+_\\d+)_', undefined)).toEqual(['g:00_01', 'g:00_01']);
  });

  // A set split three ways, as Roboflow and many Kaggle sets are.
  const threeWay = { 'train/a/1.jpg': 'x', 'train/a/2.jpg': 'x', 'train/b/1.jpg': 'x', 'train/b/2.jpg': 'x', 'valid/a/3.jpg': 'x', 'test/a/4.jpg': 'x', 'test/b/4.jpg': 'x', 'README.roboflow.txt': 'x' };

  it('trains on train/ of a split set with --val or --val-split too, and validates on valid/ otherwise', async () => {
    const root = await tree(threeWay);
    const other = await tree({ 'b/5.jpg': 'x' });
    const byDefault = await prepareData({ train: root, seed: 1 });
    expect(byDefault.source).toEqual({ train: join(root, 'train'), val: join(root, 'valid'), valSplit: null });
    const withVal = await prepareData({ train: root, val: other, seed: 1 });
    expect(withVal.labels).toEqual(['a', 'b']); // not train, valid and test as classes
    expect(withVal.source).toEqual({ train: join(root, 'train'), val: other, valSplit: null });
    const withSplit = await prepareData({ train: root, valSplit: 0.5, seed: 1 });
    expect(withSplit.labels).toEqual(['a', 'b']);
    expect(withSplit.source.train).toBe(join(root, 'train'));
    expect(withSplit.train.length + withSplit.val.length).toBe(4);
  });

  it('evaluates a split set on test/ first, refuses one with train/ alone, and offers the test/ training left unused', async () => {
    const root = await tree(threeWay);
    expect((await findSplitFolders(root, EVAL_FOLDER_NAMES))?.val).toBe(join(root, 'test'));
    const onlyTrain = await tree({ 'train/a/1.jpg': 'x', 'train/b/1.jpg': 'x' });
    // Refused before the model is used.
    await expectDatasetError(evaluateModel({} as GraftModel, onlyTrain), /holds train\/ and no held-out folder/, /graft eval <model> .*test/);
    expect(await unusedTestFolder(root, join(root, 'valid'))).toBe(join(root, 'test')); // training validated on valid/
    expect(await unusedTestFolder(root, join(root, 'test'))).toBeUndefined(); // test/ was the validation set
    expect(await unusedTestFolder(root, undefined)).toBe(join(root, 'test')); // --val-split: no folder scored
    expect(await unusedTestFolder(onlyTrain, undefined)).toBeUndefined();
  });
});
