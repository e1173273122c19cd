import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { classCounts } from '../../src/serve/dashboard/class-counts.js';
import { tree } from '../data/dataset-trees.js';

describe('the dashboard counts a project folder as training reads it', () => {
  it('class folders, a split set, and loose images labelled by their manifest', async () => {
    const folders = await tree({ 'cat/1.jpg': 'x', 'cat/2.jpg': 'x', 'dog/1.jpg': 'x', 'notes.txt': 'x' });
    expect(await classCounts(folders)).toEqual({ classes: [{ label: 'cat', count: 2 }, { label: 'dog', count: 1 }], skipped: 1 });
    // Roboflow's CSV export: each part's loose images and its one-hot _classes.csv; train and valid are counted.
    const roboflow = await tree({
      'train/a.jpg': 'x', 'train/b.jpg': 'x', 'train/_classes.csv': 'filename, cat, dog\na.jpg, 1, 0\nb.jpg, 0, 1\n',
      'valid/c.jpg': 'x', 'valid/_classes.csv': 'filename, cat, dog\nc.jpg, 1, 0\n',
    });
    expect((await classCounts(roboflow)).classes).toEqual([{ label: 'cat', count: 2 }, { label: 'dog', count: 1 }]);
    // A split column: train and valid rows are counted, test rows are not (training never reads them).
    const table = await tree({ 'a.jpg': 'x', 'b.jpg': 'x', 'c.jpg': 'x', 'd.jpg': 'x', 'labels.csv': 'path,label,split\na.jpg,cat,train\nb.jpg,dog,train\nc.jpg,dog,valid\nd.jpg,dog,test\n' });
    expect((await classCounts(table)).classes).toEqual([{ label: 'cat', count: 1 }, { label: 'dog', count: 2 }]);
    // A new, empty project shows no classes.
    expect(await classCounts(join(folders, 'missing'))).toEqual({ classes: [], skipped: 0 });
  });
});
