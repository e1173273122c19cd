import { readFile, readdir, stat, writeFile, mkdir } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraftError } from '../../src/core/errors.js';
import type { ProgressEvent } from '../../src/core/progress.js';
import { downloadImages, folderName } from '../../src/data/download-images.js';
import { scanCsv } from '../../src/data/scan-csv.js';
import { hasShared, hymenoptera, tempDir } from '../support.js';

/** A real photo when ../shared is there (the test is about the bytes travelling, not what they show), else one drawn by sharp. */
async function photo(name: string): Promise<Buffer> {
  if (hasShared) return readFile(join(hymenoptera, 'val', name.split('/')[0]!, (await readdir(join(hymenoptera, 'val', name.split('/')[0]!))).sort()[Number(name.split('/')[1])]!));
  return sharp({ create: { width: 32, height: 24, channels: 3, background: { r: 200, g: 100, b: Number(name.split('/')[1]) * 20 } } }).jpeg().toBuffer();
}

describe('downloadImages: a manifest of URLs fetched into a folder, with a manifest graft train reads', () => {
  let server: Server;
  let base: string;
  const requests: string[] = [];
  const agents = new Set<string>();
  let inFlight = 0;
  let mostInFlight = 0;
  let ant: Buffer;
  let bee: Buffer;
  let png: Buffer;

  beforeAll(async () => {
    ant = await photo('ants/0');
    bee = await photo('bees/1');
    png = await sharp({ create: { width: 20, height: 20, channels: 3, background: '#3366cc' } }).png().toBuffer();
    server = createServer((request: IncomingMessage, response) => {
      const path = request.url ?? '';
      requests.push(path);
      agents.add(request.headers['user-agent'] ?? '');
      inFlight++;
      mostInFlight = Math.max(mostInFlight, inFlight);
      response.on('close', () => inFlight--);
      // Each answer waits a little, so that fetches overlap and the concurrency limit is what bounds them.
      setTimeout(() => {
        if (path.startsWith('/ant')) return void response.writeHead(200, { 'content-type': 'image/jpeg' }).end(ant);
        if (path.startsWith('/bee')) return void response.writeHead(200, { 'content-type': 'image/jpeg' }).end(bee);
        // A PNG behind a URL with no extension (a CDN's `?id=`): the bytes name the file.
        if (path.startsWith('/photo.php')) return void response.writeHead(200, { 'content-type': 'image/png' }).end(png);
        if (path === '/removed.jpg') return void response.writeHead(200, { 'content-type': 'text/html' }).end('<!DOCTYPE html><html><body>This photo was removed</body></html>');
        response.writeHead(404).end();
      }, 15);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => void server.close());

  /** A manifest of 12 URLs (two of them failing), a local file, an s3:// URL and one URL listed twice. */
  async function manifestIn(root: string): Promise<string> {
    await writeFile(join(root, 'local.jpg'), bee);
    const lines = ['url,species,split'];
    for (let i = 0; i < 5; i++) lines.push(`${base}/ant-${i}.jpg,ants,train`, `${base}/bee-${i}.jpg,bees,train`);
    lines.push(
      `${base}/ant-0.jpg,ants,train`,
      `${base}/photo.php?id=3,"bees, blue",valid`,
      `${base}/gone.jpg,ants,valid`,
      `${base}/removed.jpg,bees,valid`,
      'local.jpg,bees,valid',
      's3://bucket/x.jpg,ants,train',
    );
    const manifest = join(root, 'list.csv');
    await writeFile(manifest, `${lines.join('\n')}\n`);
    return manifest;
  }

  it('fetches each URL once into a folder per class, names files by their bytes, reports what failed, and writes a manifest scanCsv reads', async () => {
    const root = await tempDir();
    const manifest = await manifestIn(root);
    const out = join(root, 'images');
    const events: ProgressEvent[] = [];
    requests.length = 0;
    mostInFlight = 0;
    const report = await downloadImages(manifest, out, { concurrency: 3, retryDelayMs: 1, userAgent: 'graft-test/1', onProgress: (e) => events.push(e) });

    expect(report).toMatchObject({ manifest: join(out, 'manifest.csv'), rows: 13, downloaded: 11, present: 0, local: 1 });
    expect(report.failed).toEqual([
      { line: 14, url: `${base}/gone.jpg`, label: 'ants', reason: 'HTTP 404 Not Found' },
      { line: 15, url: `${base}/removed.jpg`, label: 'bees', reason: expect.stringMatching(/^not an image Graft reads \(JPEG, .*\): the server sent a web page \(\d+ bytes\), not the image$/) },
      { line: 17, url: 's3://bucket/x.jpg', label: 'ants', reason: expect.stringMatching(/^only http\(s\) URLs are fetched; copy s3:\/\/ files/) },
    ]);
    // ant-0 is listed twice under one class: one request. 13 distinct URLs were asked for, 3 at a time at most.
    expect(requests.filter((r) => r === '/ant-0.jpg')).toHaveLength(1);
    expect(requests).toHaveLength(13);
    expect(mostInFlight).toBe(3);
    expect([...agents]).toEqual(['graft-test/1']);

    // A folder per class (a label's comma is kept, a separator would not be); the PNG is a .png whatever its URL says.
    expect((await readdir(out)).sort()).toEqual(['ants', 'bees', 'bees, blue', 'manifest.csv']);
    expect((await readdir(join(out, 'ants'))).every((f) => /^[0-9a-f]{16}\.jpg$/.test(f))).toBe(true);
    expect(await readdir(join(out, 'ants'))).toHaveLength(5);
    expect(await readdir(join(out, 'bees, blue'))).toEqual([expect.stringMatching(/^[0-9a-f]{16}\.png$/)]);

    const text = await readFile(report.manifest, 'utf8');
    const lines = text.split('\r\n');
    expect(lines[0]).toBe('path,label,split');
    expect(lines).toContain(`${join(root, 'local.jpg')},bees,val`);
    expect(lines.filter((l) => l.startsWith('ants/'))).toHaveLength(6);
    expect(lines.find((l) => l.includes('.png'))).toMatch(/^"bees, blue\/[0-9a-f]{16}\.png","bees, blue",val$/);

    // What graft train reads: every row a file that is there, bytes as served, the split kept.
    const scanned = await scanCsv(report.manifest);
    expect(scanned.skipped).toEqual([]);
    expect(scanned.items).toHaveLength(13);
    const firstAnt = scanned.items.find((i) => i.label === 'ants')!;
    expect(await readFile(firstAnt.file)).toEqual(ant);
    expect(scanned.split?.counts).toEqual({ train: 11, val: 2, test: 0 });
    expect((await scanCsv(report.manifest, { parts: ['val'] })).items.map((i) => i.label).sort()).toEqual(['bees', 'bees, blue']);

    // Progress: a start line, a count per image ending at the total, each failure said as a skipped file.
    expect(events[0]).toEqual({ type: 'info', message: `download: 13 images to fetch into ${out}; 1 rows name local files` });
    const counts = events.filter((e) => e.type === 'fetch');
    expect(counts.at(-1)).toMatchObject({ done: 13, total: 13, failed: 2 });
    expect(events.filter((e) => e.type === 'skip').map((e) => e.type === 'skip' && e.file)).toEqual(expect.arrayContaining([`${base}/gone.jpg`, `${base}/removed.jpg`]));
  });

  it('run again on the same folder, fetches only what is missing, and tidies what a killed run left', async () => {
    const root = await tempDir();
    const manifest = await manifestIn(root);
    const out = join(root, 'images');
    await downloadImages(manifest, out, { retryDelayMs: 1 });
    // A killed run's half-written file (pid 2^22 + 1 runs nowhere) and one image lost since.
    const ants = join(out, 'ants');
    const [lost] = (await readdir(ants)).sort();
    await writeFile(join(ants, '0123456789abcdef.jpg.tmp-4194305-00000000'), 'half');
    const { rm } = await import('node:fs/promises');
    await rm(join(ants, lost!));
    requests.length = 0;
    const again = await downloadImages(manifest, out, { retryDelayMs: 1 });
    expect(again).toMatchObject({ rows: 13, downloaded: 1, present: 10 });
    // The one lost image, and the two that failed before, are asked for again; nothing else.
    expect(requests).toHaveLength(3);
    expect(requests).toEqual(expect.arrayContaining(['/gone.jpg', '/removed.jpg', expect.stringMatching(/^\/ant-\d\.jpg$/)]));
    expect(await readdir(ants)).toHaveLength(5);
  });

  it('stops when told, keeping whole files only and writing no manifest; the next run goes on', async () => {
    const root = await tempDir();
    const manifest = await manifestIn(root);
    const out = join(root, 'images');
    const controller = new AbortController();
    const error = await downloadImages(manifest, out, {
      concurrency: 2,
      onProgress: (e) => {
        if (e.type === 'fetch' && e.done === 3) controller.abort();
      },
      signal: controller.signal,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GraftError);
    expect(error).toMatchObject({ code: 'CANCELLED', message: expect.stringMatching(new RegExp(`^Stopped with \\d+ of 13 images in ${out}; no manifest was written\\.$`)) });
    await expect(stat(join(out, 'manifest.csv'))).rejects.toThrow(/ENOENT/);
    const files = (await Promise.all(['ants', 'bees'].map((c) => readdir(join(out, c)).catch(() => [] as string[])))).flat();
    expect(files.length).toBeGreaterThanOrEqual(3);
    expect(files.length).toBeLessThan(11);
    expect(files.every((f) => /^[0-9a-f]{16}\.jpg$/.test(f))).toBe(true);
    const resumed = await downloadImages(manifest, out, { retryDelayMs: 1 });
    expect(resumed.present).toBeGreaterThanOrEqual(3);
    expect(resumed.downloaded + resumed.present).toBe(11);
  });

  it('refuses what would lose data or fetch nothing, saying what to do', async () => {
    const root = await tempDir();
    const manifest = await manifestIn(root);
    // The manifest written would replace the one read.
    const own = join(root, 'manifest.csv');
    await writeFile(own, `path,label\n${base}/ant-1.jpg,ants\n`);
    await expect(downloadImages(own, root)).rejects.toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringContaining('would replace the one read'), hint: expect.stringContaining('another folder') });
    expect(await readFile(own, 'utf8')).toBe(`path,label\n${base}/ant-1.jpg,ants\n`);
    // --out names a file.
    await expect(downloadImages(manifest, join(root, 'local.jpg'))).rejects.toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringContaining('is a file') });
    // Nothing could be had: an error naming the first failure, and no manifest.
    const dead = join(root, 'dead.csv');
    await writeFile(dead, `path,label\n${base}/gone.jpg,ants\n${base}/removed.jpg,bees\n`);
    await expect(downloadImages(dead, join(root, 'dead'))).rejects.toMatchObject({
      code: 'INVALID_DATASET',
      message: `No image of ${dead} could be had: line 2, ${base}/gone.jpg: HTTP 404 Not Found (and 1 more).`,
    });
    await expect(stat(join(root, 'dead', 'manifest.csv'))).rejects.toThrow(/ENOENT/);
    await mkdir(join(root, 'empty'));
    const empty = join(root, 'empty', 'list.csv');
    await writeFile(empty, 'path,label\n');
    await expect(downloadImages(empty, join(root, 'x'))).rejects.toMatchObject({ code: 'INVALID_DATASET', message: expect.stringContaining('lists no images') });
  });
});

describe('folderName', () => {
  it('keeps a label a file system takes, and replaces what none does', () => {
    expect(folderName('golden retriever')).toBe('golden retriever');
    expect(folderName('bees, blue')).toBe('bees, blue');
    expect(folderName('Straße')).toBe('Straße');
    expect(folderName('cats/dogs')).toBe('cats_dogs');
    expect(folderName('a\\b:c*d?e"f<g>h|i')).toBe('a_b_c_d_e_f_g_h_i');
    expect(folderName('tab\there')).toBe('tab_here');
    expect(folderName('..')).toBe('__');
    expect(folderName('.')).toBe('_');
    expect(folderName('end. ')).toBe('end__');
  });
});
