import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasShared, hymenoptera, int8Model, parseJsonOutput, runCli, skipReason, tempDir } from '../support.js';

interface DownloadJson {
  manifest: string;
  rows: number;
  downloaded: number;
  present: number;
  local: number;
  failed: { line: number; url: string; label: string; reason: string }[];
  seconds: number;
}

skipReason('CLI download tests');
describe.skipIf(!hasShared)('graft download, then graft train on the manifest it writes', () => {
  let server: Server;
  let root: string;
  let list: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    root = await tempDir();
    env = { GRAFT_CACHE_DIR: join(root, 'cache') };
    // Real photos of hymenoptera's train/, 6 per class, served from loopback by URL (the CSV a labelling tool exports).
    const photos = new Map<string, Buffer>();
    const rows = ['image_url,label'];
    for (const label of ['ants', 'bees']) {
      for (const name of (await readdir(join(hymenoptera, 'train', label))).filter((f) => f.endsWith('.jpg')).sort().slice(0, 6)) {
        photos.set(`/${label}/${name}`, await readFile(join(hymenoptera, 'train', label, name)));
        rows.push(`{base}/${label}/${name},${label}`);
      }
    }
    rows.push('{base}/bees/deleted.jpg,bees');
    server = createServer((request, response) => {
      const bytes = photos.get(request.url ?? '');
      if (bytes) return void response.writeHead(200, { 'content-type': 'image/jpeg' }).end(bytes);
      response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    list = join(root, 'urls.csv');
    await writeFile(list, `${rows.map((r) => r.replace('{base}', base)).join('\n')}\n`);
  });
  afterAll(() => void server?.close());

  it('fetches with progress when piped, says what failed and what to run next; a second run fetches nothing; train reads the result', async () => {
    const out = join(root, 'photos');
    const first = await runCli(['download', list, '--out', out], env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain(`download: 13 images to fetch into ${out}`);
    expect(first.stderr).toMatch(/^ {2}fetched 13\/13 images \([\d.]+ img\/s, 1 failed\)$/m);
    expect(first.stderr).toMatch(/^skipped http:\/\/127\.0\.0\.1:\d+\/bees\/deleted\.jpg: HTTP 404 Not Found$/m);
    const lines = first.stdout.trim().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^${join(out, 'manifest.csv')}: 12 images \\(12 fetched, 0 already there\\) in [\\d.]+ s$`));
    expect(lines[1]).toBe('1 could not be had and are left out:');
    expect(lines[2]).toMatch(/^ {2}line 14 \(bees\): http:\/\/127\.0\.0\.1:\d+\/bees\/deleted\.jpg: HTTP 404 Not Found$/);
    expect(lines.at(-1)).toBe(`next: graft train ${join(out, 'manifest.csv')} --out model`);

    const again = await runCli(['download', list, '--out', out, '--json'], env);
    expect(again.code, again.stderr).toBe(0);
    const report = parseJsonOutput<DownloadJson>(again);
    expect(report).toMatchObject({ manifest: join(out, 'manifest.csv'), rows: 12, downloaded: 0, present: 12, local: 0 });
    expect(report.failed).toEqual([{ line: 14, url: expect.stringMatching(/\/bees\/deleted\.jpg$/), label: 'bees', reason: 'HTTP 404 Not Found' }]);

    const trained = await runCli(['train', report.manifest, '--backbone', int8Model, '--out', join(root, 'model'), '--json'], env);
    expect(trained.code, trained.stderr).toBe(0);
    const result = parseJsonOutput<{ labels: string[]; images: { train: number; skipped: unknown[] } }>(trained);
    expect(result.labels).toEqual(['ants', 'bees']);
    expect(result.images).toMatchObject({ train: 12, skipped: [] });
  });

  it('fails clearly, with exit code 2 and JSON under --json, on a missing manifest, a missing --out, and URLs none of which answers', async () => {
    const missing = await runCli(['download', join(root, 'nope.csv'), '--out', join(root, 'x'), '--json'], env);
    expect(missing.code).toBe(2);
    expect(parseJsonOutput<{ error: { code: string; message: string } }>(missing).error).toMatchObject({ code: 'INVALID_DATASET', message: `CSV file not found: ${join(root, 'nope.csv')}` });
    const noOut = await runCli(['download', list], env);
    expect(noOut.code).toBe(2);
    expect(noOut.stderr).toContain("required option '--out <dir>' not specified");
    const dead = join(root, 'dead.csv');
    await writeFile(dead, 'url,label\nhttp://127.0.0.1:9/a.jpg,ants\nhttp://127.0.0.1:9/b.jpg,bees\n');
    const none = await runCli(['download', dead, '--out', join(root, 'dead'), '--retries', '0'], env);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/No image of .*dead\.csv could be had: line 2, http:\/\/127\.0\.0\.1:9\/a\.jpg: cannot fetch: .*\(and 1 more\)/);
  });
});
