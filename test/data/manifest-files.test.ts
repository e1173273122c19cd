// Kaggle's tables: image ids without an extension, in a folder beside the table (train_images/), as Keras's
// `directory=` and fastai's `folder=`/`suffix=` arguments are told.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listDataset, type ListedImage } from '../../src/data/dataset-listing.js';
import { unusedTestData } from '../../src/data/find-split-folders.js';
import { inspectDataset } from '../../src/data/inspect.js';
import { inspectManifest } from '../../src/data/inspect-manifest.js';
import { manifestPathRule } from '../../src/data/manifest-files.js';
import { scanCsv } from '../../src/data/scan-csv.js';
import { scanDataset } from '../../src/data/scan-dataset.js';
import { prepareData } from '../../src/learn/prepare-data.js';
import { expectDatasetError, tree } from './dataset-trees.js';

describe('where a manifest points', () => {
  it("reads Kaggle's ids without an extension from the one sub-folder that holds them", async () => {
    const root = await tree({ 'train_images/0013035.jpg': 'x', 'train_images/1030023514.jpg': 'x', 'train_images/2a.jpg': 'x', 'test_images/9.jpg': 'x', 'sample_submission.csv': 'id_code,label\n' });
    const table = join(root, 'train.csv');
    await writeFile(table, 'image_id,label\n0013035,ants\n1030023514,bees\n2a,bees\nmissing,ants\n');
    const ds = await scanCsv(table);
    expect(ds.items).toEqual([
      { file: join(root, 'train_images/0013035.jpg'), label: 'ants' },
      { file: join(root, 'train_images/1030023514.jpg'), label: 'bees' },
      { file: join(root, 'train_images/2a.jpg'), label: 'bees' },
    ]);
    expect(ds.skipped).toEqual([{ file: join(root, 'train_images/missing.jpg'), reason: 'file not found' }]);
    // The shard listing and graft inspect read the same files.
    const listed: ListedImage[] = [];
    for await (const image of (await listDataset(table)).images()) listed.push(image);
    expect(listed.map((image) => image.path)).toEqual(['train_images/0013035.jpg', 'train_images/1030023514.jpg', 'train_images/2a.jpg', 'train_images/missing.jpg']);
    const summary = await inspectDataset(table, { checkDecode: false });
    expect(summary.parts[0]!.imageCount).toBe(3);
    expect(summary.parts[0]!.skipped.map((s) => s.file)).toEqual([join(root, 'train_images/missing.jpg')]);
    // The folder itself is not one folder per class: training "train_images" against "test_images" is refused.
    await expectDatasetError(
      prepareData({ train: root, seed: 1 }),
      /holds sample_submission\.csv, train\.csv beside image folders named test_images\/, train_images\/: a table and the folders of its images/,
      new RegExp(`graft train ${join(root, 'train.csv')}`),
    );
  });

  it("points a folder of Kaggle's dog breeds (train/, test/, labels.csv) to its table, which then trains", async () => {
    const root = await tree({ 'train/a1.jpg': 'x', 'train/b1.jpg': 'x', 'test/c1.jpg': 'x', 'sample_submission.csv': 'id,beagle,pug\n' });
    await writeFile(join(root, 'labels.csv'), 'id,label\na1,beagle\nb1,pug\n');
    await expectDatasetError(prepareData({ train: root, seed: 1 }), /No class subfolders found in .*train/, new RegExp(`pass it instead: graft train ${join(root, 'labels.csv')}`));
    const data = await prepareData({ train: join(root, 'labels.csv'), seed: 1 });
    expect(data.train.map((item) => [item.file, item.label])).toEqual([[join(root, 'train/a1.jpg'), 'beagle'], [join(root, 'train/b1.jpg'), 'pug']]);
  });

  it('decides from the first row whose image is found: an unnamed header row before it is a missing file', async () => {
    const root = await tree({ 'train/a.png': 'x', 'train/b.png': 'x' });
    const table = join(root, 'labels.csv');
    await writeFile(table, 'Id,Breed\na,beagle\nb,pug\n');
    const ds = await scanCsv(table);
    expect(ds.items.map((item) => item.file)).toEqual([join(root, 'train/a.png'), join(root, 'train/b.png')]);
    expect(ds.skipped).toEqual([{ file: join(root, 'train/Id.png'), reason: 'file not found' }]);
  });

  it('finds a file the manifest names in the other Unicode form (café typed on Linux, unzipped from macOS decomposed)', async () => {
    const decomposed = 'cafe\u0301.jpg';
    const root = await tree({ [`imgs/${decomposed}`]: 'x', 'imgs/plain.jpg': 'x', 'imgs/other.jpg': 'x' });
    const table = join(root, 'labels.csv');
    await writeFile(table, `path,label\nimgs/plain.jpg,a\nimgs/${decomposed.normalize('NFC')},a\nimgs/other.jpg,b\n`);
    const ds = await scanCsv(table);
    expect(ds.skipped).toEqual([]);
    expect(ds.items.map((i) => i.file)).toContain(join(root, 'imgs', decomposed));
    const parts = await inspectManifest(table, { checkDecode: false });
    expect(parts.flatMap((p) => p.skipped)).toEqual([]);
  });

  it('keeps paths beside the manifest as written, and adopts no sub-folder when several hold the first image', async () => {
    const root = await tree({ 'a.jpg': 'x', 'train/a.jpg': 'x', 'train/b.jpg': 'x', 'test/b.jpg': 'x' });
    expect(await manifestPathRule(join(root, 'x.csv'), 'a.jpg')).toEqual({ base: root, suffix: '' });
    expect(await manifestPathRule(join(root, 'x.csv'), 'a')).toEqual({ base: root, suffix: '.jpg' });
    expect(await manifestPathRule(join(root, 'x.csv'), 'b.jpg')).toBeUndefined();
    const table = join(root, 'ambiguous.csv');
    await writeFile(table, 'path,label\nb.jpg,x\nb.jpg,y\n');
    await expectDatasetError(scanCsv(table), new RegExp(`2 listed files cannot be read, such as ${join(root, 'b.jpg')}: file not found`), /one sub-folder of it/);
  });

  it('lists a URL as written, skipped as a URL (not as a file under the manifest), in scanCsv and inspectManifest alike', async () => {
    const root = await tree({ 'a.jpg': 'x', 'b.jpg': 'x' });
    const table = join(root, 'list.csv');
    await writeFile(table, 'path,label\na.jpg,ants\nhttps://example.com/c.jpg,ants\nb.jpg,bees\nS3://bucket/d.jpg,bees\n');
    const web = "a URL: fetch a manifest's images with graft download <manifest> --out <folder>, then train on the manifest it writes";
    const other = "a URL: a manifest's images are read from disk; copy them with that service's own tool and list their paths";
    const skipped = [{ file: 'https://example.com/c.jpg', reason: web }, { file: 'S3://bucket/d.jpg', reason: other }];
    expect((await scanCsv(table)).skipped).toEqual(skipped);
    const [part] = await inspectManifest(table, { checkDecode: false });
    expect(part!.skipped).toEqual(skipped);
    // graft inspect says what to run for the web addresses (s3:// is not one graft download fetches).
    expect(part!.urlCount).toBe(1);
    expect((await inspectDataset(table, { checkDecode: false })).warnings).toContain(`1 listed images are URLs: fetch them with graft download ${table} --out <folder>, then inspect or train on <folder>/manifest.csv`);
    await writeFile(table, 'path,label\nhttps://example.com/c.jpg,ants\nhttps://example.com/d.jpg,bees\n');
    await expectDatasetError(scanCsv(table), /2 listed images are URLs, such as https:\/\/example\.com\/c\.jpg\)$/, new RegExp(`^fetch them first: graft download ${table.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} --out <folder>, then train on <folder>/manifest\.csv$`));
  });

  it("reads a one-hot table, one column per class (Kaggle's Plant Pathology, Roboflow's _classes.csv)", async () => {
    const root = await tree({ 'images/Train_0.jpg': 'x', 'images/Train_1.jpg': 'x', 'images/Train_2.jpg': 'x' });
    const table = join(root, 'train.csv');
    await writeFile(table, 'image_id,healthy,multiple_diseases,rust,scab\nTrain_0,0,0,0,1\nTrain_1,0,1,0,0\nTrain_2,1,0,0,0\n');
    const ds = await scanCsv(table);
    expect(ds.items.map((item) => [item.file.slice(root.length + 1), item.label])).toEqual([
      ['images/Train_0.jpg', 'scab'],
      ['images/Train_1.jpg', 'multiple_diseases'],
      ['images/Train_2.jpg', 'healthy'],
    ]);
    expect(ds.labels).toEqual(['healthy', 'multiple_diseases', 'scab']);
    // Roboflow writes a space after each comma, and a split column is not a class.
    const roboflow = join(root, 'images', '_classes.csv');
    await writeFile(roboflow, 'filename, cat, dog, split\nTrain_0.jpg, 1, 0, train\nTrain_1.jpg, 0, 1, train\nTrain_2.jpg, 0, 1, test\n');
    const train = await scanCsv(roboflow, { parts: ['train'] });
    expect(train.items.map((item) => item.label)).toEqual(['cat', 'dog']);
    // Several classes in one row, none, or a column that is not a class are refused, naming the line.
    const multi = join(root, 'multi.csv');
    await writeFile(multi, 'image_id,healthy,rust,scab\nTrain_0,0,1,1\n');
    await expectDatasetError(scanCsv(multi), /Line 2 of .*multi\.csv marks 2 classes \(rust, scab\): Graft trains a classifier of one class per image/);
    const none = join(root, 'none.csv');
    await writeFile(none, 'image_id,healthy,rust\nTrain_0,0,0\n');
    await expectDatasetError(scanCsv(none), /Line 2 .* marks no class/);
    const sizes = join(root, 'sizes.csv');
    await writeFile(sizes, 'filename,width,height\nTrain_0.jpg,640,480\n');
    await expectDatasetError(scanCsv(sizes), /Line 2 .* holds "640" in the column "width": a table with a path column and no label column is read as one column per class/, /name the class column/);
  });

  it("trains on Roboflow's CSV export: train/, valid/ and test/, each loose images and a _classes.csv", async () => {
    const files: Record<string, string> = {};
    const tables: Record<string, string> = {};
    for (const part of ['train', 'valid', 'test']) {
      tables[part] = 'filename, cat, dog\n';
      for (const [i, label] of ['cat', 'dog', 'cat', 'dog'].entries()) {
        files[`${part}/${part}-${i}_jpg.rf.abc.jpg`] = 'x';
        tables[part] += `${part}-${i}_jpg.rf.abc.jpg, ${label === 'cat' ? 1 : 0}, ${label === 'dog' ? 1 : 0}\n`;
      }
    }
    const root = await tree({ ...files, ...Object.fromEntries(Object.entries(tables).map(([part, text]) => [`${part}/_classes.csv`, text])), 'README.roboflow.txt': 'x' });
    const data = await prepareData({ train: root, seed: 1 });
    expect(data.labels).toEqual(['cat', 'dog']);
    // By class (cat: 0 and 2; dog: 1 and 3), then path, as training orders every source.
    expect(data.train.map((item) => item.file)).toEqual([0, 2, 1, 3].map((i) => join(root, 'train', `train-${i}_jpg.rf.abc.jpg`)));
    expect(data.val.map((item) => item.file.slice(root.length + 1, root.length + 7))).toEqual(['valid/', 'valid/', 'valid/', 'valid/']);
    expect(data.source.val).toBe(join(root, 'valid', '_classes.csv'));
    const summary = await inspectDataset(root, { checkDecode: false });
    expect(summary.parts.map((part) => [part.name, part.imageCount])).toEqual([['train', 4], ['val', 4], ['test', 4]]);
    // A folder with class sub-folders is read by them, whatever table lies beside them.
    const classFolders = await tree({ 'cat/1.jpg': 'x', 'dog/1.jpg': 'x', 'labels.csv': 'path,label\ncat/1.jpg,dog\n' });
    expect((await scanDataset(classFolders)).items.map((item) => item.label)).toEqual(['cat', 'dog']);
  });

  it('offers the test rows of a folder labelled by its manifest to graft eval, unless training scored them', async () => {
    const root = await tree({ 'a.jpg': 'x', 'b.jpg': 'x', 'c.jpg': 'x', 'd.jpg': 'x', 'e.jpg': 'x', 'f.jpg': 'x' });
    await writeFile(join(root, 'labels.csv'), 'filename,label,split\na.jpg,ant,train\nb.jpg,bee,train\nc.jpg,ant,valid\nd.jpg,bee,valid\ne.jpg,ant,test\nf.jpg,bee,test\n');
    const data = await prepareData({ train: root, seed: 1 });
    expect(data.source).toMatchObject({ val: join(root, 'labels.csv'), valPart: 'val' });
    expect(await unusedTestData(root, data.source)).toBe(root);
    const summary = await inspectDataset(root, { checkDecode: false });
    expect([summary.layout, summary.parts.map((part) => [part.name, part.imageCount])]).toEqual(['csv', [['train', 2], ['val', 2], ['test', 2]]]);
    expect(await unusedTestData(root, { val: join(root, 'labels.csv'), valPart: 'test' })).toBeUndefined();
  });
});

describe('the order of a manifest\'s rows', () => {
  it('does not matter: training sees its images by class, then path, as from class folders and feature stores', async () => {
    const root = await tree({ 'b/2.jpg': 'x', 'a/1.jpg': 'x', 'b/1.jpg': 'x', 'a/3.jpg': 'x', 'a/2.jpg': 'x' });
    const rows = ['b/2.jpg,bee', 'a/1.jpg,ant', 'b/1.jpg,bee', 'a/3.jpg,ant', 'a/2.jpg,ant'];
    await writeFile(join(root, 'shuffled.csv'), `path,label\n${rows.join('\n')}\n`);
    await writeFile(join(root, 'reversed.csv'), `path,label\n${[...rows].reverse().join('\n')}\n`);
    const order = async (csv: string) => (await prepareData({ train: join(root, csv), seed: 1 })).train.map((item) => `${item.label}:${item.file.slice(root.length + 1)}`);
    const expected = ['ant:a/1.jpg', 'ant:a/2.jpg', 'ant:a/3.jpg', 'bee:b/1.jpg', 'bee:b/2.jpg'];
    expect(await order('shuffled.csv')).toEqual(expected);
    expect(await order('reversed.csv')).toEqual(expected);
  });
});
