// Kaggle's tables: image ids without an extension, in a folder beside the table (train_images/), as Keras's
// `directory=` and fastai's `folder=`/`suffix=` arguments are told.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listDataset, type ListedImage } from '../../src/data/dataset-listing.js';
import { inspectDataset } from '../../src/data/inspect.js';
import { manifestPathRule } from '../../src/data/manifest-files.js';
import { scanCsv } from '../../src/data/scan-csv.js';
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
  });

  it('decides from the first row whose image is found: an unnamed header row before it is a missing file', async () => {
    const root = await tree({ 'train/a.png': 'x', 'train/b.png': 'x' });
    const table = join(root, 'labels.csv');
    await writeFile(table, 'Id,Breed\na,beagle\nb,pug\n');
    const ds = await scanCsv(table);
    expect(ds.items.map((item) => item.file)).toEqual([join(root, 'train/a.png'), join(root, 'train/b.png')]);
    expect(ds.skipped).toEqual([{ file: join(root, 'train/Id.png'), reason: 'file not found' }]);
  });

  it('keeps paths beside the manifest as written, and adopts no sub-folder when several hold the first image', async () => {
    const root = await tree({ 'a.jpg': 'x', 'train/a.jpg': 'x', 'train/b.jpg': 'x', 'test/b.jpg': 'x' });
    expect(await manifestPathRule(join(root, 'x.csv'), 'a.jpg')).toEqual({ base: root, suffix: '' });
    expect(await manifestPathRule(join(root, 'x.csv'), 'a')).toEqual({ base: root, suffix: '.jpg' });
    expect(await manifestPathRule(join(root, 'x.csv'), 'b.jpg')).toBeUndefined();
    const table = join(root, 'ambiguous.csv');
    await writeFile(table, 'path,label\nb.jpg,x\nb.jpg,y\n');
    await expectDatasetError(scanCsv(table), new RegExp(`2 listed files not found, such as ${join(root, 'b.jpg')}`), /one sub-folder of it/);
  });
});
