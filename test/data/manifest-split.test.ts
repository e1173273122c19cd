// A manifest with a split column (Kaggle's and labelling tools' one table for train, valid and test; fastai's
// `is_valid`): its held-out rows must never be trained on.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listDataset, type ListedImage } from '../../src/data/dataset-listing.js';
import { inspectDataset } from '../../src/data/inspect.js';
import { streamManifest } from '../../src/data/manifest.js';
import { hasUnusedTestRows, scanCsv } from '../../src/data/scan-csv.js';
import { prepareData } from '../../src/learn/prepare-data.js';
import { evaluateModel } from '../../src/model/evaluate-model.js';
import type { GraftModel } from '../../src/model/graft-model.js';
import { expectDatasetError, tree } from './dataset-trees.js';

/** Images a1..a3 and b1..b3 (not decoded here) and the manifest `name` holding `text`. */
async function withManifest(name: string, text: string): Promise<{ root: string; manifest: string }> {
  const files = Object.fromEntries(['a1', 'a2', 'a3', 'a4', 'b1', 'b2', 'b3', 'b4'].map((f) => [`img/${f}.jpg`, 'x']));
  const root = await tree(files);
  const manifest = join(root, name);
  await writeFile(manifest, text);
  return { root, manifest };
}

const names = (root: string, items: readonly { file: string }[]): string[] => items.map((item) => item.file.slice(root.length + 5)).sort();

const threeWay = [
  'image,label,split',
  'img/a1.jpg,ant,train',
  'img/a2.jpg,ant,Train',
  'img/b1.jpg,bee,training',
  'img/b2.jpg,bee,train',
  'img/a3.jpg,ant,valid',
  'img/b3.jpg,bee,validation',
  'img/a4.jpg,ant,test',
  'img/b4.jpg,bee,TEST',
].join('\n');

describe('a manifest with a split column', () => {
  it('trains on its train rows, validates on its valid rows, and leaves its test rows to graft eval', async () => {
    const { root, manifest } = await withManifest('set.csv', threeWay);
    const data = await prepareData({ train: manifest, seed: 1 });
    expect(names(root, data.train)).toEqual(['a1.jpg', 'a2.jpg', 'b1.jpg', 'b2.jpg']);
    expect(names(root, data.val)).toEqual(['a3.jpg', 'b3.jpg']);
    expect(data.source).toMatchObject({ train: manifest, val: manifest, valPart: 'val' });
    expect(await hasUnusedTestRows(manifest, data.source)).toBe(true);
    // --val-split holds out train rows only; the valid and test rows stay out of training.
    const held = await prepareData({ train: manifest, seed: 1, valSplit: 0.5 });
    expect(names(root, [...held.train, ...held.val])).toEqual(['a1.jpg', 'a2.jpg', 'b1.jpg', 'b2.jpg']);
    expect(held.source.valPart).toBeUndefined();
    // graft eval scores the test rows (refused before the model is used when there are none).
    const test = await scanCsv(manifest, { parts: ['test', 'val'] });
    expect(names(root, test.items)).toEqual(['a4.jpg', 'b4.jpg']);
    expect(test.split).toEqual({ counts: { train: 4, val: 2, test: 2 }, part: 'test' });
    // Without parts asked for (graft embed into the cache), every row is listed.
    expect((await scanCsv(manifest)).items).toHaveLength(8);
  });

  it('validates on the test rows when there are no valid rows, as a train/ + test/ folder does', async () => {
    const { root, manifest } = await withManifest('two.csv', threeWay.replace(/,valid$|,validation$/gm, ',train'));
    const data = await prepareData({ train: manifest, seed: 1 });
    expect(names(root, data.val)).toEqual(['a4.jpg', 'b4.jpg']);
    expect(data.source.valPart).toBe('test');
    expect(await hasUnusedTestRows(manifest, data.source)).toBe(false);
  });

  it("reads fastai's is_valid flag and JSON Lines' split key (a string or a boolean)", async () => {
    const flag = await withManifest('fastai.csv', 'fname,label,is_valid\nimg/a1.jpg,ant,False\nimg/b1.jpg,bee,False\nimg/a2.jpg,ant,True\nimg/b2.jpg,bee,true\n');
    const fromFlag = await prepareData({ train: flag.manifest, seed: 1 });
    expect(names(flag.root, fromFlag.train)).toEqual(['a1.jpg', 'b1.jpg']);
    expect(names(flag.root, fromFlag.val)).toEqual(['a2.jpg', 'b2.jpg']);
    const lines = ['{"path":"img/a1.jpg","label":"ant","split":"train"}', '{"path":"img/b1.jpg","label":"bee","split":"train"}', '{"path":"img/a2.jpg","label":"ant","split":"test"}'];
    const jsonl = await withManifest('set.jsonl', lines.join('\n'));
    const entries = [];
    for await (const entry of streamManifest(jsonl.manifest)) entries.push(entry.part);
    expect(entries).toEqual(['train', 'train', 'test']);
    const flags = await withManifest('flags.jsonl', '{"path":"img/a1.jpg","label":"ant","is_valid":false}\n{"path":"img/a2.jpg","label":"ant","is_valid":true}\n');
    const parts = [];
    for await (const entry of streamManifest(flags.manifest)) parts.push(entry.part);
    expect(parts).toEqual(['train', 'val']);
  });

  it('refuses a split it does not know, a JSON Lines file split in part, and a split with nothing to train or score', async () => {
    const unknown = await withManifest('bad.csv', 'path,label,split\nimg/a1.jpg,ant,train\nimg/b1.jpg,bee,holdout\n');
    await expectDatasetError(scanCsv(unknown.manifest), /Line 3 of .*bad\.csv has the split "holdout"/, /train, valid .* or test/);
    const partly = await withManifest('partly.jsonl', '{"path":"img/a1.jpg","label":"ant","split":"train"}\n{"path":"img/b1.jpg","label":"bee"}\n');
    await expectDatasetError(scanCsv(partly.manifest), /Line 2 of .*partly\.jsonl has no split, and other lines do/);
    const noTrain = await withManifest('held.csv', 'path,label,split\nimg/a1.jpg,ant,test\nimg/b1.jpg,bee,valid\n');
    await expectDatasetError(prepareData({ train: noTrain.manifest, seed: 1 }), /has no train rows in its split column \(0 train, 1 val, 1 test rows\)/);
    const noTest = await withManifest('train-only.csv', 'path,label,split\nimg/a1.jpg,ant,train\nimg/b1.jpg,bee,train\n');
    await expectDatasetError(evaluateModel({} as GraftModel, noTest.manifest), /has no test or val rows in its split column to evaluate on/);
    await expectDatasetError(prepareData({ train: unknown.manifest.replace('bad', 'x'), seed: 1, val: noTest.manifest }), /not found/);
    const train = await withManifest('plain.csv', 'path,label\nimg/a1.jpg,ant\nimg/b1.jpg,bee\n');
    await expectDatasetError(prepareData({ train: train.manifest, seed: 1, val: noTest.manifest }), /no val or test rows in its split column to validate on/);
  });

  it('is listed for sharded extraction as train rows then valid rows, and inspected part by part', async () => {
    const { manifest } = await withManifest('set.csv', threeWay);
    const listing = await listDataset(manifest);
    expect(listing.layout).toBe('split');
    const listed: ListedImage[] = [];
    for await (const image of listing.images()) listed.push(image);
    expect(listed.map((image) => `${image.part}:${image.path}`)).toEqual(['0:img/a1.jpg', '0:img/a2.jpg', '0:img/b1.jpg', '0:img/b2.jpg', '1:img/a3.jpg', '1:img/b3.jpg']);
    const summary = await inspectDataset(manifest, { checkDecode: false });
    expect(summary.parts.map((part) => [part.name, part.imageCount])).toEqual([['train', 4], ['val', 2], ['test', 2]]);
    const lopsided = await withManifest('lopsided.csv', 'path,label,split\nimg/a1.jpg,ant,train\nimg/b1.jpg,bee,train\nimg/a2.jpg,ant,test\n');
    expect((await inspectDataset(lopsided.manifest, { checkDecode: false })).warnings).toContain('test has no images of: bee');
  });
});
