// Datasets as they arrive from other systems: names in a Windows code page, Excel's CSV dialects, drive clutter.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inspectDataset } from '../../src/data/inspect.js';
import { scanCsv } from '../../src/data/scan-csv.js';
import { caseOnlyLabelsNote, scanImageFolder } from '../../src/data/scan-folder.js';
import { evaluateModel } from '../../src/model/evaluate-model.js';
import type { GraftModel } from '../../src/model/graft-model.js';
import { expectDatasetError, tree } from './dataset-trees.js';

/** `root/<name bytes>`: a path whose name is raw bytes, as a Windows zip unpacked here leaves it. */
const rawPath = (root: string, ...parts: (string | Buffer)[]): Buffer => Buffer.concat(parts.flatMap((part, i) => [Buffer.from(i === 0 ? `${root}/` : '/'), Buffer.from(part)]));
const latin1 = (text: string): Buffer => Buffer.from(text, 'latin1');

describe('names that are not UTF-8', () => {
  it('refuses a class folder whose name cannot be read, naming the fix; a listing shows it as skipped', async () => {
    const root = await tree({ 'ants/1.jpg': 'x', 'bees/1.jpg': 'x' });
    mkdirSync(rawPath(root, latin1('café')));
    writeFileSync(rawPath(root, latin1('café'), '1.jpg'), 'x');
    await expectDatasetError(scanImageFolder(root), /Cannot read the folder .*caf\uFFFD: its name is not valid UTF-8/, undefined);
    const listed = await scanImageFolder(root, { isLenient: true });
    expect(listed.labels).toEqual(['ants', 'bees']);
    expect(listed.skipped).toEqual([{ file: join(root, 'caf\uFFFD'), reason: expect.stringMatching(/not valid UTF-8.*convmv/) }]);
  });

  it('skips a file whose name cannot be read with that reason, not as "file not found" later', async () => {
    const root = await tree({ 'ants/1.jpg': 'x', 'bees/1.jpg': 'x' });
    writeFileSync(rawPath(root, 'bees', latin1('é.jpg')), 'x');
    // A loose note beside the class folders is no class: skipped too, not a reason to stop.
    writeFileSync(rawPath(root, latin1('Liste des espèces.txt')), 'x');
    const ds = await scanImageFolder(root);
    expect(ds.items.map((item) => item.file)).toEqual([join(root, 'ants/1.jpg'), join(root, 'bees/1.jpg')]);
    expect(ds.skipped).toEqual([
      { file: join(root, 'Liste des esp\uFFFDces.txt'), reason: expect.stringMatching(/not valid UTF-8/) },
      { file: join(root, 'bees/\uFFFD.jpg'), reason: expect.stringMatching(/not valid UTF-8/) },
    ]);
  });

  it('refuses a manifest saved in a Windows code page, naming the line, instead of merging accented labels', async () => {
    const root = await tree({ 'a.jpg': 'x', 'b.jpg': 'x', 'c.jpg': 'x' });
    const table = join(root, 'labels.csv');
    writeFileSync(table, Buffer.concat([Buffer.from('path,label\r\na.jpg,fourmi\r\nb.jpg,'), latin1('abeille à miel'), Buffer.from('\r\nc.jpg,abeille a miel\r\n')]));
    await expectDatasetError(scanCsv(table), /labels\.csv is not UTF-8 text \(line 3 /, /CSV UTF-8/);
    // The line is the one with the bad byte: not an earlier real U+FFFD, nor a character split between two reads.
    const replacement = join(root, 'replacement.csv');
    writeFileSync(replacement, Buffer.concat([Buffer.from('path,label\na.jpg,\uFFFD mark\nb.jpg,b\nc.jpg,c\nd.jpg,'), latin1('é'), Buffer.from('\n')]));
    await expectDatasetError(scanCsv(replacement), /replacement\.csv is not UTF-8 text \(line 5 /);
    // 17-byte rows after a 21-byte start: row 3853's 3-byte "€" starts at byte 65535, across the first 64 KiB read.
    const rows = ['path,label', 'f.jpg,xyz', ...Array.from({ length: 4000 }, (_, i) => `img${String(i).padStart(5, '0')}.jpg,€`)].join('\n');
    expect(Buffer.from(rows).subarray(65535, 65538).toString()).toBe('€');
    const long = join(root, 'long.csv');
    writeFileSync(long, Buffer.concat([Buffer.from(`${rows}\nlast.jpg,`), latin1('é'), Buffer.from('\n')]));
    await expectDatasetError(scanCsv(long), /long\.csv is not UTF-8 text \(line 4003 /);
  });
});

describe("Excel's CSV dialects", () => {
  it('passes over the rows of empty fields Excel leaves, and says when a file is separated by ";"', async () => {
    const root = await tree({ 'a.jpg': 'x', 'b.jpg': 'x' });
    const table = join(root, 'labels.csv');
    writeFileSync(table, 'path,label,,\r\na.jpg,ant,,\r\nb.jpg,bee,,\r\n,,,\r\n,,,\r\n');
    expect((await scanCsv(table)).items.map((item) => item.label)).toEqual(['ant', 'bee']);
    const semicolons = join(root, 'semicolons.csv');
    writeFileSync(semicolons, 'path;label\r\na.jpg;ant\r\nb.jpg;bee\r\n');
    await expectDatasetError(scanCsv(semicolons), /Line 1 of .*semicolons\.csv/, /separated by ";" or tabs/);
  });
});

describe('a manifest whose files moved', () => {
  it('is inspected, not refused: the class that lost every file is listed with its missing files', async () => {
    const root = await tree({ 'ants/1.jpg': 'x', 'ants/2.jpg': 'x' });
    const table = join(root, 'half.csv');
    writeFileSync(table, 'path,label\r\nants/1.jpg,ants\r\nants/2.jpg,ants\r\nD:/old/bees/1.jpg,bees\r\nD:/old/bees/2.jpg,bees\r\n');
    const summary = await inspectDataset(table, { checkDecode: false });
    const part = summary.parts[0]!;
    expect(part.classes.map((c) => [c.label, c.count])).toEqual([['ants', 2], ['bees', 0]]);
    expect(part.skippedCount).toBe(2);
    expect(part.skipped.map((s) => s.reason)).toEqual(['file not found', 'file not found']);
    expect(summary.warnings).toContain('1 class with images: training needs at least 2');
    // Not "has only 0 usable images", which read as a small class training would take.
    expect(summary.warnings).toContain('class "bees" has no usable image: training refuses it; replace its unreadable files or remove the class');
    expect(summary.warnings.join('\n')).not.toMatch(/only 0 usable/);
  });
});

describe('system clutter', () => {
  it("passes over a Windows drive's recycle bin and restore points, Explorer's and macOS's files, and lost+found", async () => {
    const root = await tree({
      'ants/1.jpg': 'x',
      'ants/Thumbs.db': 'x',
      'ants/desktop.ini': 'x',
      'bees/1.jpg': 'x',
      'bees/Icon\r': '',
      '$RECYCLE.BIN/S-1-5-21/$R000.jpg': 'x',
      'System Volume Information/x.jpg': 'x',
      'lost+found/#123.jpg': 'x',
      'ehthumbs.db': 'x',
    });
    const ds = await scanImageFolder(root);
    expect(ds.labels).toEqual(['ants', 'bees']);
    expect(ds.skipped).toEqual([]);
  });
});

describe('class names that differ only in case', () => {
  it('are warned of at training (one folder on macOS or Windows), and named in eval\'s refusal', async () => {
    expect(caseOnlyLabelsNote(['Cat', 'bees', 'cat'])).toMatch(/classes "Cat" and "cat" differ only in case: .*merge them/);
    expect(caseOnlyLabelsNote(['ants', 'bees'])).toBeUndefined();
    const root = await tree({ 'Ants/1.jpg': 'x', 'bees/1.jpg': 'x' });
    const model = { labels: ['ants', 'bees'], manifest: {} } as unknown as GraftModel;
    await expectDatasetError(evaluateModel(model, root), /classes the model does not know: Ants/, /compared with their case: "Ants" is "ants" in the model/);
  });
});
