import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listDataset } from '../../src/data/dataset-listing.js';
import { parseCsv } from '../../src/data/scan-csv.js';
import { streamManifest } from '../../src/data/manifest.js';
import { GraftError } from '../../src/core/errors.js';
import { tempDir } from '../support.js';

async function entries(file: string): Promise<[string, string, number][]> {
  const out: [string, string, number][] = [];
  for await (const e of streamManifest(file)) out.push([e.path, e.label, e.line]);
  return out;
}

describe('streamed manifests', () => {
  it('parses CSV as parseCsv does, across chunk boundaries: quotes, commas, newlines in fields, CRLF, BOM, header', async () => {
    const dir = await tempDir('graft-manifest-');
    const padding = Array.from({ length: 3000 }, (_, i) => `p/${'x'.repeat(20)}${i}.jpg,cls${i % 3}`).join('\r\n');
    const text = `\uFEFFpath,label\r\n"a, b.jpg",cat\n"multi\nline.jpg","say ""hi"""\n\n${padding}\nlast.jpg,dog`;
    const file = join(dir, 'list.csv');
    await writeFile(file, text);
    // A file name may hold a line break (quoted, CSV keeps it); one that names no file is a stray quote's doing (below).
    await writeFile(join(dir, 'multi\nline.jpg'), '');
    const got = await entries(file);
    const expected = parseCsv(text.replace(/^\uFEFF/, '')).slice(1).map((r) => [r.fields[0]!.trim(), r.fields[1]!.trim(), r.line]);
    expect(got).toEqual(expected);
    expect(got.slice(0, 2)).toEqual([['a, b.jpg', 'cat', 2], ['multi\nline.jpg', 'say "hi"', 3]]);
    expect(got.length).toBe(3003);
    expect(got.at(-1)).toEqual(['last.jpg', 'dog', 3006]);
  });

  it('refuses a quote that is never closed, or one closed lines later, naming the line that opened it', async () => {
    const dir = await tempDir('graft-manifest-');
    const file = join(dir, 'list.csv');
    // Every other row starts with a stray quote: each joins the next row into one field, and the file ends closed.
    await writeFile(file, 'path,label\na.jpg,ants\n"b.jpg,bees\n"c.jpg,bees\nd.jpg,ants\n');
    await expect(entries(file)).rejects.toThrow(/^Line 3 of .*list\.csv opens a quoted field \("\) that runs over the next line\(s\): its path reads "b\.jpg,bees\\nc\.jpg"$/);
    await writeFile(file, 'path,label\na.jpg,ants\nb.jpg,bees\n"c.jpg,bees\nd.jpg,ants\n');
    await expect(entries(file)).rejects.toThrow(/^Line 4 of .*list\.csv opens a quoted field \("\) that is never closed/);
    expect(() => parseCsv('a,b\n"c,d\n')).toThrow(/line 2 opens a quoted field that is never closed/);
  });

  it("reads graft predict --csv as a manifest: an unreadable image's row (no label, an error) is passed over, one-hot tables unchanged", async () => {
    const dir = await tempDir('graft-manifest-');
    const file = join(dir, 'predictions.csv');
    await writeFile(file, 'path,label,probability,label_2,probability_2,error\na.jpg,ants,0.9,bees,0.1,\nbad.jpg,,,,,not an image (5 bytes)\nc.jpg,bees,0.8,ants,0.2,\n');
    expect(await entries(file)).toEqual([['a.jpg', 'ants', 2], ['c.jpg', 'bees', 4]]);
    // In a one-hot table (no label column) an `error` column is a class, as in a defect inspection's.
    await writeFile(file, 'path,ok,error\na.jpg,1,0\nb.jpg,0,1\n');
    expect(await entries(file)).toEqual([['a.jpg', 'ok', 2], ['b.jpg', 'error', 3]]);
    // Without a reason the row is still a mistake to say.
    await writeFile(file, 'path,label,probability,error\na.jpg,ants,0.9,\nb.jpg,,,\n');
    await expect(entries(file)).rejects.toThrow(/Line 3 of .*predictions\.csv has no label for b\.jpg/);
  });

  it('reads JSON Lines and names the line of a bad entry', async () => {
    const dir = await tempDir('graft-manifest-');
    const file = join(dir, 'list.jsonl');
    await writeFile(file, '{"path": "a.jpg", "label": "cat", "extra": 1}\n\n{"path": "b.jpg", "label": "dog"}\n');
    expect(await entries(file)).toEqual([['a.jpg', 'cat', 1], ['b.jpg', 'dog', 3]]);
    await writeFile(file, '{"path": "a.jpg", "label": "cat"}\n{"path": "b.jpg"}\n');
    await expect(entries(file)).rejects.toThrow(/Line 2 of .*list\.jsonl has no label for b\.jpg/);
    await writeFile(file, '{"path": "a.jpg", "label": "cat"}\nnot json\n');
    await expect(entries(file)).rejects.toThrow(GraftError);
    await expect(entries(join(dir, 'none.csv'))).rejects.toThrow(/CSV file not found/);
  });

  it('lists a manifest for shards with paths relative to it (absolute outside it)', async () => {
    const dir = await tempDir('graft-manifest-');
    const file = join(dir, 'list.csv');
    await writeFile(file, `cats/1.jpg,cat\n/elsewhere/2.jpg,dog\n`);
    const listing = await listDataset(file);
    const images = [];
    for await (const image of listing.images()) images.push(image);
    expect(listing.layout).toBe('single');
    expect(images).toEqual([
      { part: 0, label: 'cat', path: 'cats/1.jpg', file: join(dir, 'cats/1.jpg') },
      { part: 0, label: 'dog', path: '/elsewhere/2.jpg', file: '/elsewhere/2.jpg' },
    ]);
  });
});
