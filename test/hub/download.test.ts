import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { rm, utimes, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, normalize } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerModels, type ModelInfo, type ModelListItem, type PullResult } from '../../src/cli/commands/models.js';
import { GraftError } from '../../src/core/errors.js';
import type { ProgressEvent } from '../../src/core/progress.js';
import { CATALOGUE } from '../../src/hub/catalogue.js';
import { downloadFile } from '../../src/hub/download.js';
import { resolveBackbone } from '../../src/hub/resolve-backbone.js';
import { hasShared, int8Model, sharedDir, skipReason, tempDir } from '../support.js';

/**
 * A loopback hub over ../shared/models:
 * - /models/<path>: the file, with Range support (206 + Content-Range)
 * - /hop1/<path> -> 302 /hop2/<path> -> 302 /models/<path>
 * - /cut/<path>: the first request sends the full Content-Length, N bytes, then closes the socket; later ones act as /models
 * - /norange/<path>: always 200 with the whole file (a server that ignores Range)
 * - /tfhub/.../model.json and /tfhub/.../group1-shard1of1 (only with ?tfjs-format=file): the MobileNet v1 graph model
 * - /mutable/<name>: whatever `mutable[name]` holds now (a file that changes upstream); cut like /cut while
 *   `mutableCut` has the name
 * - /html/<name>: an HTML page with status 200 (what a sign-in or error page looks like to a downloader)
 * - /loop/<name>: a redirect to itself
 * Files carry an ETag (their sha256) and honour If-Range as real servers do: a Range whose If-Range is not the
 * current ETag gets the whole file.
 */
const CUT_AFTER = 1_000_000;
const zooPrefix = 'https://github.com/onnx/models/raw/main/validated/vision/classification/mobilenet/model/';
const int8Path = 'mobilenetv2-int8-onnx/mobilenetv2-12-int8.onnx';
/** Where TF Hub published the MobileNet V1 graph model in ../shared (its PROVENANCE.md), as Graft fetches it. */
const mobilenetV1HubUrl = 'https://tfhub.dev/google/tfjs-model/imagenet/mobilenet_v1_025_224/classification/1/default/1/model.json?tfjs-format=file';

skipReason('hub download tests over loopback');
describe.skipIf(!hasShared)('hub downloads over loopback HTTP', () => {
  let server: Server;
  let base: string;
  const requests: { url: string; range: string | undefined }[] = [];
  const cutDone = new Set<string>();
  const mutable: Record<string, Buffer> = {};
  const mutableCut = new Set<string>();
  const stalled: ServerResponse[] = [];
  const flakyCounts = new Map<string, number>();
  // Read lazily: describe bodies run even when the suite is skipped (no ../shared).
  const int8Sha = hasShared ? createHash('sha256').update(readFileSync(int8Model)).digest('hex') : '';

  function serveFile(req: IncomingMessage, res: ServerResponse, rel: string, allowRange: boolean): void {
    const file = normalize(join(sharedDir, 'models', rel));
    if (!file.startsWith(join(sharedDir, 'models')) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    sendBytes(req, res, readFileSync(file), allowRange);
  }

  function sendBytes(req: IncomingMessage, res: ServerResponse, bytes: Buffer, allowRange: boolean): void {
    const etag = `"${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}"`;
    const ifRange = req.headers['if-range'];
    const range = ifRange === undefined || ifRange === etag ? /^bytes=(\d+)-$/.exec(req.headers.range ?? '') : null;
    if (allowRange && range) {
      const start = Number(range[1]);
      if (start >= bytes.length) {
        res.writeHead(416, { 'content-range': `bytes */${bytes.length}` }).end();
        return;
      }
      res.writeHead(206, { etag, 'content-length': bytes.length - start, 'content-range': `bytes ${start}-${bytes.length - 1}/${bytes.length}` }).end(bytes.subarray(start));
      return;
    }
    res.writeHead(200, { etag, 'content-length': bytes.length }).end(bytes);
  }

  beforeAll(async () => {
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      requests.push({ url: req.url ?? '', range: req.headers.range });
      const [, route, ...rest] = url.pathname.split('/');
      const rel = ((raw: string) => { try { return decodeURIComponent(raw); } catch { return raw; } })(rest.join('/'));
      if (route === 'models') serveFile(req, res, rel, true);
      else if (route === 'hop1') res.writeHead(302, { location: `/hop2/${rel}` }).end();
      else if (route === 'hop2') res.writeHead(302, { location: `/models/${rel}` }).end();
      else if (route === 'norange') serveFile(req, res, rel, false);
      else if (route === 'cut' && !cutDone.has(req.url ?? '')) {
        cutDone.add(req.url ?? '');
        const bytes = readFileSync(join(sharedDir, 'models', rel));
        res.writeHead(200, { etag: `"${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}"`, 'content-length': bytes.length });
        res.write(bytes.subarray(0, CUT_AFTER), () => setTimeout(() => res.socket?.destroy(), 20));
      } else if (route === 'cut') serveFile(req, res, rel, true);
      else if (route === 'mutable') {
        const bytes = mutable[rel];
        if (!bytes) res.writeHead(404).end();
        else if (mutableCut.delete(rel)) {
          res.writeHead(200, { etag: `"${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}"`, 'content-length': bytes.length });
          res.write(bytes.subarray(0, bytes.length >> 1), () => setTimeout(() => res.socket?.destroy(), 20));
        } else sendBytes(req, res, bytes, true);
      } else if (route === 'flaky') {
        // /flaky/<failures>/<retry-after>/<file>: HTTP 503 that many times for this URL, then the file.
        const [failures, retryAfter, ...file] = rest;
        const seen = (flakyCounts.get(req.url ?? '') ?? 0) + 1;
        flakyCounts.set(req.url ?? '', seen);
        if (seen <= Number(failures)) res.writeHead(503, retryAfter === '-' ? {} : { 'retry-after': retryAfter }).end('busy');
        else serveFile(req, res, file.join('/'), true);
      } else if (route === 'html') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>Sign in</title>');
      else if (route === 'loop') res.writeHead(302, { location: `/loop/${rel}` }).end();
      else if (route === 'stall') {
        // 1 000 of 400 000 bytes, then nothing: a server that stops sending.
        res.writeHead(200, { etag: '"stall"', 'content-length': 400_000 });
        res.write(Buffer.alloc(1000, 3));
        stalled.push(res);
      }
      else if (route === 'tfhub') {
        const name = rest[rest.length - 1];
        if (url.searchParams.get('tfjs-format') !== 'file' || !name) res.writeHead(404).end();
        else serveFile(req, res, `mobilenet-v1-025-tfjs/graph/${name}`, true);
      } else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    for (const res of stalled) res.socket?.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });

  it('follows a chain of redirects and verifies the sha256', async () => {
    const dest = join(await tempDir(), 'm.onnx');
    const events: number[] = [];
    const sha = await downloadFile(`${base}/hop1/${int8Path}`, dest, { sha256: int8Sha, onProgress: (e) => e.type === 'download' && events.push(e.loaded) });
    expect(sha).toBe(int8Sha);
    expect(readdirSync(join(dest, '..'))).toEqual(['m.onnx']);
    expect(events.at(-1)).toBe(statSync(int8Model).size);
    expect(requests.filter((r) => r.url.includes(int8Path)).map((r) => r.url.split('/')[1])).toEqual(expect.arrayContaining(['hop1', 'hop2', 'models']));
  });

  it('resumes a truncated transfer with a Range request and checks the whole file', async () => {
    const dir = await tempDir();
    const dest = join(dir, 'm.onnx');
    const url = `${base}/cut/${int8Path}`;
    // Not tried again here (retries: 0), so that the next call's resume can be seen; by default it resumes at once (below).
    const first = (await downloadFile(url, dest, { sha256: int8Sha, retries: 0 }).catch((e: unknown) => e)) as GraftError;
    expect(first).toBeInstanceOf(GraftError);
    expect(first.code).toBe('OFFLINE');
    expect(first.hint).toContain('resumes');
    expect(existsSync(dest)).toBe(false);
    // The lock is gone; the bytes are kept, with the ETag they belong to (a resume asks for the rest of that version).
    expect(readdirSync(dir).sort()).toEqual(['m.onnx.partial', 'm.onnx.partial.validator']);
    const kept = statSync(`${dest}.partial`).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(CUT_AFTER);

    const before = requests.length;
    expect(await downloadFile(url, dest, { sha256: int8Sha })).toBe(int8Sha);
    expect(requests.slice(before)).toEqual([{ url: `/cut/${int8Path}`, range: `bytes=${kept}-` }]);
    expect(createHash('sha256').update(readFileSync(dest)).digest('hex')).toBe(int8Sha);
    expect(readdirSync(dir)).toEqual(['m.onnx']);
  });

  it('tries again what may pass: a transfer cut off resumes in the same call, a busy server is asked again after Retry-After', async () => {
    const dir = await tempDir();
    const retries: string[] = [];
    const onProgress = (e: ProgressEvent) => void (e.type === 'warning' && retries.push(`${e.code}: ${e.message}`));
    const cut = `${base}/cut/${int8Path}?second`;
    let before = requests.length;
    expect(await downloadFile(cut, join(dir, 'a.onnx'), { sha256: int8Sha, onProgress, retryDelayMs: 1 })).toBe(int8Sha);
    expect(requests.slice(before).map((r) => r.range)).toEqual([undefined, expect.stringMatching(/^bytes=\d+-$/)]);
    expect(retries).toEqual([expect.stringMatching(/^DOWNLOAD_RETRY: Download of .* was interrupted after \d+ bytes of \d+; trying again in 0\.0 s \(retry 1 of 3\)$/)]);

    retries.length = 0;
    before = requests.length;
    expect(await downloadFile(`${base}/flaky/2/0/${int8Path}`, join(dir, 'b.onnx'), { sha256: int8Sha, onProgress })).toBe(int8Sha);
    expect(requests.length - before).toBe(3);
    expect(retries).toEqual([1, 2].map((n) => expect.stringMatching(new RegExp(`HTTP 503 Service Unavailable .*; trying again in 0\\.0 s \\(retry ${n} of 3\\)$`))));

    // Never better: the last failure, saying how often; a 404 is not asked again; nor is a server that asks for an hour.
    before = requests.length;
    const busy = (await downloadFile(`${base}/flaky/99/-/${int8Path}`, join(dir, 'c.onnx'), { retries: 2, retryDelayMs: 1 }).catch((e: unknown) => e)) as GraftError;
    expect(busy).toMatchObject({ code: 'OFFLINE', message: expect.stringMatching(/HTTP 503 .*\(tried 3 times\)$/) });
    expect(requests.length - before).toBe(3);
    before = requests.length;
    expect(await downloadFile(`${base}/missing/m.onnx`, join(dir, 'd.onnx'), { retryDelayMs: 1 }).catch((e: GraftError) => e.code)).toBe('MODEL_NOT_FOUND');
    expect(await downloadFile(`${base}/flaky/1/3600/${int8Path}`, join(dir, 'e.onnx')).catch((e: GraftError) => e.message)).toMatch(/HTTP 503 .*may pass\); the server asks to wait 60 minutes before trying again$/);
    expect(requests.length - before).toBe(2);
    expect(readdirSync(dir).sort()).toEqual(['a.onnx', 'b.onnx']);

    // Ctrl+C while it waits to try again: CANCELLED at once.
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const started = Date.now();
    const waiting = (await downloadFile(`${base}/flaky/1/30/${int8Path}`, join(dir, 'f.onnx'), { signal: controller.signal }).catch((e: unknown) => e)) as GraftError;
    expect(waiting.code).toBe('CANCELLED');
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(existsSync(join(dir, 'f.onnx.lock'))).toBe(false);
  });

  it('starts again from zero when the server ignores Range', async () => {
    const dir = await tempDir();
    const dest = join(dir, 'm.onnx');
    await writeFile(`${dest}.partial`, Buffer.alloc(1000, 7)); // not even a prefix of the real file
    expect(await downloadFile(`${base}/norange/${int8Path}`, dest, { sha256: int8Sha })).toBe(int8Sha);
    expect(readdirSync(dir)).toEqual(['m.onnx']);
  });

  it('rejects a wrong sha256, naming URL and both hashes, and leaves nothing behind', async () => {
    const dir = await tempDir();
    const url = `${base}/models/${int8Path}`;
    const error = (await downloadFile(url, join(dir, 'm.onnx'), { sha256: 'f'.repeat(64) }).catch((e: unknown) => e)) as GraftError;
    expect(error.code).toBe('MODEL_NOT_FOUND');
    expect(error.message).toContain(url);
    expect(error.message).toContain('f'.repeat(64));
    expect(error.message).toContain(int8Sha);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('resumes only the version it started: a file changed upstream is fetched whole, not glued onto the old bytes', async () => {
    const dir = await tempDir();
    const dest = join(dir, 'm.onnx');
    const url = `${base}/mutable/changing.onnx`;
    const oldBytes = Buffer.alloc(400_000, 1);
    const newBytes = Buffer.alloc(400_000, 2);
    mutable['changing.onnx'] = oldBytes;
    mutableCut.add('changing.onnx');
    expect(((await downloadFile(url, dest, { retries: 0 }).catch((e: unknown) => e)) as GraftError).code).toBe('OFFLINE');
    expect(statSync(`${dest}.partial`).size).toBeGreaterThan(0);
    mutable['changing.onnx'] = newBytes; // the server now has another file under the same URL
    const before = requests.length;
    expect(await downloadFile(url, dest)).toBe(createHash('sha256').update(newBytes).digest('hex'));
    expect(requests.slice(before)[0]?.range).toMatch(/^bytes=\d+-$/); // it asked to resume, under If-Range
    expect(readFileSync(dest).equals(newBytes)).toBe(true);
    expect(readdirSync(dir)).toEqual(['m.onnx']);

    // Bytes kept without a validator (a server that sends no ETag or Last-Modified) are not trusted: it starts over.
    const dest2 = join(dir, 'n.onnx');
    await writeFile(`${dest2}.partial`, newBytes.subarray(0, 1000));
    const before2 = requests.length;
    expect(await downloadFile(url, dest2)).toBe(createHash('sha256').update(newBytes).digest('hex'));
    expect(requests.slice(before2)).toEqual([{ url: '/mutable/changing.onnx', range: undefined }]);
  });

  it('refuses an HTML page served as the model, and a redirect loop is named as one', async () => {
    const dir = await tempDir();
    const html = (await downloadFile(`${base}/html/m.onnx`, join(dir, 'm.onnx')).catch((e: unknown) => e)) as GraftError;
    expect(html).toMatchObject({ code: 'MODEL_NOT_FOUND', message: expect.stringContaining('HTML page') });
    expect(readdirSync(dir)).toEqual([]);
    const loop = (await downloadFile(`${base}/loop/m.onnx`, join(dir, 'm.onnx')).catch((e: unknown) => e)) as GraftError;
    expect(loop.code).toBe('OFFLINE');
    expect(loop.message).toMatch(/redirect/i);
    expect(loop.hint).not.toContain('check the network');
  });

  it('a listener that throws (a cancelled run) ends the download with its error and releases the lock', async () => {
    const dir = await tempDir();
    const dest = join(dir, 'm.onnx');
    const cancelled = new GraftError('CANCELLED', 'Training was cancelled');
    const error = await downloadFile(`${base}/models/${int8Path}`, dest, { onProgress: () => { throw cancelled; } }).catch((e: unknown) => e);
    expect(error).toBe(cancelled);
    expect(existsSync(`${dest}.lock`)).toBe(false);
    expect(existsSync(dest)).toBe(false);
  });

  it('a cancel (Ctrl+C) stops a stalled transfer and the wait for another process at once, as CANCELLED', async () => {
    const dir = await tempDir();
    const dest = join(dir, 'm.onnx');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const started = Date.now();
    const error = (await downloadFile(`${base}/stall/m.onnx`, dest, { signal: controller.signal }).catch((e: unknown) => e)) as GraftError;
    expect(error.code).toBe('CANCELLED');
    expect(Date.now() - started).toBeLessThan(3_000); // it waited for the next byte before: here, for ever
    expect(existsSync(`${dest}.lock`)).toBe(false);

    const { spawn } = await import('node:child_process');
    const alive = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
    try {
      const dest2 = join(dir, 'n.onnx');
      await writeFile(`${dest2}.lock`, `${alive.pid}\n${hostname()}\n`); // another running process's download
      const waiting = new AbortController();
      setTimeout(() => waiting.abort(), 300);
      const waited = (await downloadFile(`${base}/models/${int8Path}`, dest2, { signal: waiting.signal }).catch((e: unknown) => e)) as GraftError;
      expect(waited.code).toBe('CANCELLED');
      expect(existsSync(`${dest2}.lock`)).toBe(true); // the other process's lock is left to it
    } finally {
      alive.kill();
    }
  });

  it('a server that stops sending is given up after the idle timeout and retried, resuming; it waited 5 minutes an attempt', async () => {
    const dir = await tempDir();
    const dest = join(dir, 'm.onnx');
    const warnings: string[] = [];
    const started = Date.now();
    const error = (await downloadFile(`${base}/stall/m.onnx`, dest, { idleTimeoutMs: 300, retries: 1, retryDelayMs: 10, onProgress: (e) => e.type === 'warning' && warnings.push(e.message) }).catch((e: unknown) => e)) as GraftError;
    expect(error).toMatchObject({ code: 'OFFLINE', message: expect.stringMatching(/stalled: no byte came for 0\.3 s \(after \d+ bytes of 400000\)/) });
    expect(warnings).toEqual([expect.stringContaining('stalled')]);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(existsSync(`${dest}.lock`)).toBe(false);
  });

  it("takes over at once a lock whose process is gone, and says when it waits for a live one", async () => {
    const dir = await tempDir();
    const dest = join(dir, 'm.onnx');
    const url = `${base}/models/${int8Path}`;
    const dead = spawnSync(process.execPath, ['-e', '']).pid; // exited: its pid names no process now
    await writeFile(`${dest}.lock`, `${dead}\n${hostname()}\n`); // fresh mtime: not stale by age
    const started = Date.now();
    expect(await downloadFile(url, dest, { sha256: int8Sha })).toBe(int8Sha);
    expect(Date.now() - started).toBeLessThan(5_000);

    const dest2 = join(dir, 'n.onnx');
    const { spawn } = await import('node:child_process');
    const alive = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
    try {
      await writeFile(`${dest2}.lock`, `${alive.pid}\n${hostname()}\n`); // another process, running
      const warnings: string[] = [];
      const waiting = downloadFile(url, dest2, { onProgress: (e) => e.type === 'warning' && warnings.push(`${e.code}: ${e.message}`) });
      for (const deadline = Date.now() + 30_000; warnings.length === 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
      expect(warnings).toEqual([expect.stringMatching(new RegExp(`^DOWNLOAD_WAITING: Waiting for another graft process \\(pid ${alive.pid}\\) that downloads .*n\\.onnx\\.lock`))]);
      await rm(`${dest2}.lock`);
      expect(await waiting).toBe(int8Sha);
      expect(warnings).toHaveLength(1); // said once, not at every look at the lock
    } finally {
      alive.kill();
    }

    // This process's own pid in a lock it does not hold: a restarted container's pid 1 (the lock is the killed one's).
    const dest3 = join(dir, 'p.onnx');
    await writeFile(`${dest3}.lock`, `${process.pid}\n${hostname()}\n`);
    const before = Date.now();
    expect(await downloadFile(url, dest3, { sha256: int8Sha })).toBe(int8Sha);
    expect(Date.now() - before).toBeLessThan(5_000);
  });

  it('a URL whose download is not a model keeps nothing; a cached URL model that no longer reads is fetched again', async () => {
    const cacheDir = await tempDir();
    mutable['garbage.onnx'] = Buffer.from('this is not a model, only text\n');
    const garbage = (await resolveBackbone(`${base}/mutable/garbage.onnx`, { cacheDir }).catch((e: unknown) => e)) as GraftError;
    expect(garbage).toMatchObject({ code: 'UNSUPPORTED_MODEL', message: expect.stringContaining('Nothing was kept') });
    expect(readdirSync(join(cacheDir, 'models'))).toEqual([]);
    // A 404 and a sign-in page leave no empty folder that graft cache info lists as a backbone.
    for (const url of [`${base}/missing/m.onnx`, `${base}/html/m.onnx`]) expect(await resolveBackbone(url, { cacheDir }).catch((e: GraftError) => e.code)).toBe('MODEL_NOT_FOUND');
    expect(readdirSync(join(cacheDir, 'models'))).toEqual([]);
    mutable['garbage.onnx'] = readFileSync(int8Model); // fixed upstream: the next run downloads it
    expect((await resolveBackbone(`${base}/mutable/garbage.onnx`, { cacheDir })).sha256).toBe(int8Sha);
    // Cut in half with a Content-Length to match: it starts like a model, and was kept as one (every later run failed).
    mutable['half.onnx'] = readFileSync(int8Model).subarray(0, 1_800_000);
    const half = (await resolveBackbone(`${base}/mutable/half.onnx`, { cacheDir }).catch((e: unknown) => e)) as GraftError;
    expect(half).toMatchObject({ code: 'UNSUPPORTED_MODEL', message: expect.stringMatching(/not a readable ONNX model.*Nothing was kept/s) });
    mutable['half.onnx'] = readFileSync(int8Model);
    expect((await resolveBackbone(`${base}/mutable/half.onnx`, { cacheDir })).sha256).toBe(int8Sha);

    const url = `${base}/models/${int8Path}`;
    const first = await resolveBackbone(url, { cacheDir });
    const cached = first.location.kind === 'onnx' ? first.location.path : '';
    truncateSync(cached, 1000);
    const warnings: string[] = [];
    const again = await resolveBackbone(url, { cacheDir, onProgress: (e) => e.type === 'warning' && warnings.push(e.message) });
    expect(again.sha256).toBe(int8Sha);
    expect(warnings.join('\n')).toMatch(/cannot be read .* It was removed/);

    // A model.json that is not JSON is not kept as the manifest of the next try.
    mutable['model.json'] = Buffer.from('{"format": "graph-model", "modelTopology": ');
    const cut = (await resolveBackbone(`${base}/mutable/model.json`, { cacheDir }).catch((e: unknown) => e)) as GraftError;
    expect(cut.code).toBe('INVALID_MODEL_DIR');
    mutable['model.json'] = readFileSync(join(sharedDir, 'models/mobilenet-v1-025-tfjs/graph/model.json'));
    mutable['group1-shard1of1'] = readFileSync(join(sharedDir, 'models/mobilenet-v1-025-tfjs/graph/group1-shard1of1'));
    const graph = await resolveBackbone(`${base}/mutable/model.json`, { cacheDir });
    expect(graph.format).toBe('tfjs-graph');
    expect(graph.name).toBe('mutable'); // named from its URL, not its cache folder's hash
    // A malformed escape in the path is only a name: the model still resolves (decoding it threw 'URI malformed').
    mutable['pct%ZZ/model.json'] = mutable['model.json']!;
    mutable['pct%ZZ/group1-shard1of1'] = mutable['group1-shard1of1']!;
    expect((await resolveBackbone(`${base}/mutable/pct%ZZ/model.json`, { cacheDir })).name).toBe('mutable/pct%ZZ');
  });

  it('a cached TF.js catalogue model with a cut shard is removed and fetched again', async () => {
    const cacheDir = await tempDir();
    const mirrors = [{ prefix: dirname(CATALOGUE.mobilenet_v2_035.url) + '/', target: `${base}/models/tm-mobilenetv2-035/base/` }];
    await resolveBackbone('mobilenet_v2_035', { cacheDir, mirrors });
    const shard = join(cacheDir, 'models/mobilenet_v2_035/weights.bin');
    truncateSync(shard, 1000);
    const warnings: string[] = [];
    const again = await resolveBackbone('mobilenet_v2_035', { cacheDir, mirrors, onProgress: (e) => e.type === 'warning' && warnings.push(e.message) });
    expect(again.sha256).toBe(CATALOGUE.mobilenet_v2_035.sha256[0]);
    expect(warnings.join('\n')).toMatch(/The cached copy of mobilenet_v2_035 .* was damaged: it cannot be read/);
    expect(readFileSync(shard).equals(readFileSync(join(sharedDir, 'models/tm-mobilenetv2-035/base/weights.bin')))).toBe(true);
  });

  it('a file:// URL is the local file it names', async () => {
    const found = await resolveBackbone(`file://${int8Model}`, { cacheDir: await tempDir() });
    expect(found).toMatchObject({ sha256: int8Sha, source: int8Model, location: { kind: 'onnx', path: int8Model } });
  });

  it('GRAFT_MODELS_DIR: a catalogue model with no sha256 is taken only from a folder named after it, and only with its sizes', async () => {
    const modelDirs = [join(sharedDir, 'models')]; // holds TF.js model.json files, none of them inception_v3
    const refused = (await resolveBackbone('inception_v3', { cacheDir: await tempDir(), modelDirs, offline: true }).catch((e: unknown) => e)) as GraftError;
    expect(refused.code).toBe('OFFLINE');
    // MobileNet V1 in a folder named inception_v3 is still not inception_v3: its input is 224 px, not 299.
    const root = await tempDir();
    mkdirSync(join(root, 'inception_v3'));
    cpSync(join(sharedDir, 'models/mobilenet-v1-025-tfjs/graph'), join(root, 'inception_v3'), { recursive: true });
    const other = (await resolveBackbone('inception_v3', { cacheDir: await tempDir(), modelDirs: [root], offline: true }).catch((e: unknown) => e)) as GraftError;
    expect(other).toMatchObject({ code: 'OFFLINE', message: expect.stringContaining("inception_v3/model.json (found, but its input is 224 px, where inception_v3's catalogue entry records 299 px)") });
  });

  it('waits for another process holding the lock, takes a stale lock, and fetches once for two callers', async () => {
    const dir = await tempDir();
    const dest = join(dir, 'm.onnx');
    const url = `${base}/models/${int8Path}`;
    await writeFile(`${dest}.lock`, '99999\n');
    const old = new Date(Date.now() - 3_600_000);
    await utimes(`${dest}.lock`, old, old);
    expect(await downloadFile(url, dest, { sha256: int8Sha, lockStaleMs: 60_000 })).toBe(int8Sha);

    const dest2 = join(dir, 'n.onnx');
    await writeFile(`${dest2}.lock`, '99999\n');
    let done = false;
    const waiting = downloadFile(url, dest2).then((sha) => ((done = true), sha));
    await new Promise((r) => setTimeout(r, 300));
    expect(done).toBe(false);
    await rm(`${dest2}.lock`); // the other process finished without writing dest2: this one downloads it
    expect(await waiting).toBe(int8Sha);

    const dest3 = join(dir, 'o.onnx');
    const before = requests.length;
    const [a, b] = await Promise.all([downloadFile(url, dest3), downloadFile(url, dest3)]);
    expect(a).toBe(int8Sha);
    expect(b).toBe(int8Sha);
    expect(requests.length - before).toBe(1);
    expect(readdirSync(dir).sort()).toEqual(['m.onnx', 'n.onnx', 'o.onnx']);
  });

  it('resolves a catalogue name through a loopback mirror, then offline from the cache', async () => {
    const cacheDir = await tempDir();
    const mirrors = [{ prefix: zooPrefix, target: `${base}/models/mobilenetv2-int8-onnx/` }];
    const first = await resolveBackbone('mobilenet_v2', { cacheDir, mirrors });
    expect(first.sha256).toBe(CATALOGUE.mobilenet_v2.sha256[0]);
    expect(first.location).toEqual({ kind: 'onnx', path: join(cacheDir, 'models/mobilenet_v2/mobilenetv2-12-int8.onnx') });
    const before = requests.length;
    const again = await resolveBackbone('mobilenet_v2', { cacheDir, mirrors, offline: true });
    expect(again.sha256).toBe(first.sha256);
    expect(requests.length).toBe(before);

    // A cached copy damaged on disk is not trained on: it is removed (and said), then fetched again where it can be.
    const cachedPath = join(cacheDir, 'models/mobilenet_v2/mobilenetv2-12-int8.onnx');
    const bytes = readFileSync(cachedPath);
    bytes.fill(0, 100_000, 100_400);
    writeFileSync(cachedPath, bytes);
    const warnings: string[] = [];
    const onProgress = (e: { type: string; message?: string }) => e.type === 'warning' && warnings.push(e.message!);
    const offline = (await resolveBackbone('mobilenet_v2', { cacheDir, mirrors, offline: true, onProgress }).catch((e: unknown) => e)) as GraftError;
    expect(offline.code).toBe('OFFLINE');
    expect(offline.message).toContain('(damaged, removed)');
    expect(warnings.join('\n')).toMatch(/The cached copy of mobilenet_v2 .* was damaged/);
    expect(existsSync(cachedPath)).toBe(false);
    const fetched = await resolveBackbone('mobilenet_v2', { cacheDir, mirrors });
    expect(fetched.sha256).toBe(CATALOGUE.mobilenet_v2.sha256[0]);
  });

  it('copies from a local-directory mirror, verifying the hash, offline too (a folder is not the network)', async () => {
    const cacheDir = await tempDir();
    const mirrors = [{ prefix: zooPrefix, target: join(sharedDir, 'models/mobilenetv2-int8-onnx') }];
    const resolved = await resolveBackbone('mobilenet_v2', { cacheDir, mirrors, offline: true });
    // A URL given directly is mirrored from the folder the same way.
    const byUrl = await resolveBackbone(`${zooPrefix}mobilenetv2-12-int8.onnx`, { cacheDir, mirrors, offline: true });
    expect(byUrl.sha256).toBe(resolved.sha256);
    // A mirror on another machine is the network: offline still refuses, and says where to point the mirror.
    const remote = (await resolveBackbone('mobilenet_v2', { cacheDir: await tempDir(), mirrors: [{ prefix: zooPrefix, target: 'http://127.0.0.1:9/' }], offline: true }).catch((e: unknown) => e)) as GraftError;
    expect(remote).toMatchObject({ code: 'OFFLINE', hint: expect.stringContaining('GRAFT_HUB_MIRROR at a local folder') });
    expect(resolved.location).toEqual({ kind: 'onnx', path: join(cacheDir, 'models/mobilenet_v2/mobilenetv2-12-int8.onnx') });
    const missing = (await resolveBackbone('resnet50_v1', { cacheDir, mirrors: [{ target: join(sharedDir, 'models') }] }).catch((e: unknown) => e)) as GraftError;
    expect(missing.code).toBe('MODEL_NOT_FOUND');
    expect(missing.message).toContain(CATALOGUE.resnet50_v1.url);
    // Another model under the catalogue's file name is refused by its hash, and nothing is copied into the cache.
    const wrongMirror = await tempDir();
    cpSync(join(sharedDir, 'models/mobilenetv3-small-onnx/mobilenetv3-small-feat.onnx'), join(wrongMirror, 'mobilenetv2-12-int8.onnx'));
    const wrongCache = await tempDir();
    const wrong = (await resolveBackbone('mobilenet_v2', { cacheDir: wrongCache, mirrors: [{ prefix: zooPrefix, target: wrongMirror }], offline: true }).catch((e: unknown) => e)) as GraftError;
    expect(wrong).toMatchObject({ code: 'MODEL_NOT_FOUND', message: expect.stringMatching(/has sha256 .*expected cc028fe6/) });
    expect(existsSync(join(wrongCache, 'models/mobilenet_v2')) ? readdirSync(join(wrongCache, 'models/mobilenet_v2')) : []).toEqual([]);
  });

  it('fetches a TF Hub-style graph model (model.json plus shards, ?tfjs-format=file) through a bare mirror', async () => {
    const cacheDir = await tempDir();
    const resolved = await resolveBackbone(mobilenetV1HubUrl, { cacheDir, mirrors: [{ target: `${base}/tfhub` }] });
    expect(resolved.format).toBe('tfjs-graph');
    expect(resolved.name).toBe('imagenet/mobilenet_v1_025_224/classification'); // was '1/default/1', as every TF Hub model's
    const dir = resolved.location.kind === 'tfjs-graph' ? resolved.location.dir : '';
    expect(readdirSync(dir).sort()).toEqual(['.graft-model-id', 'group1-shard1of1', 'model.json']); // the id is checked on later reads
    expect(readFileSync(join(dir, 'group1-shard1of1')).equals(readFileSync(join(sharedDir, 'models/mobilenet-v1-025-tfjs/graph/group1-shard1of1')))).toBe(true);
  });

  it('refuses another model a mirror serves under a catalogue name without a sha256, by its sizes, and keeps nothing', async () => {
    const cacheDir = await tempDir();
    // MobileNet V1 0.25 (256 features, 1001 logits) where mobilenet_v3_small_100 (1024 features) is asked for.
    const error = (await resolveBackbone('mobilenet_v3_small_100', { cacheDir, mirrors: [{ target: `${base}/tfhub` }] }).catch((e: unknown) => e)) as GraftError;
    expect(error).toBeInstanceOf(GraftError);
    expect(error.code).toBe('MODEL_NOT_FOUND');
    expect(error.message).toContain(`Downloaded mobilenet_v3_small_100 from ${CATALOGUE.mobilenet_v3_small_100.url} (served by ${base}/tfhub/`);
    expect(error.message).toContain("it gives 256 features (its output: 1001 values), where mobilenet_v3_small_100's catalogue entry records 1024");
    expect(error.hint).toContain('mirror');
    expect(existsSync(join(cacheDir, 'models/mobilenet_v3_small_100'))).toBe(false);
    // Nor an ONNX one: MobileNetV3-Small's 576 features copied from a folder mirror as resnet50_v1 (2048).
    const folder = await tempDir();
    cpSync(join(sharedDir, 'models/mobilenetv3-small-onnx/mobilenetv3-small-feat.onnx'), join(folder, 'resnet50-v1-12.onnx'));
    const mirrors = [{ prefix: dirname(CATALOGUE.resnet50_v1.url) + '/', target: folder }];
    const onnx = (await resolveBackbone('resnet50_v1', { cacheDir, mirrors, offline: true }).catch((e: unknown) => e)) as GraftError;
    expect(onnx).toMatchObject({ code: 'MODEL_NOT_FOUND', message: expect.stringContaining("it gives 576 features, where resnet50_v1's catalogue entry records 2048") });
    expect(existsSync(join(cacheDir, 'models/resnet50_v1'))).toBe(false);
  });

  it('graft models list / info / pull, with --json, against the loopback mirror', async () => {
    const cacheDir = await tempDir();
    const saved = { mirror: process.env.GRAFT_HUB_MIRROR, config: process.env.GRAFT_CONFIG, models: process.env.GRAFT_MODELS_DIR };
    process.env.GRAFT_HUB_MIRROR = `${zooPrefix}=${base}/models/mobilenetv2-int8-onnx/`;
    process.env.GRAFT_CONFIG = join(cacheDir, 'no-config.json');
    delete process.env.GRAFT_MODELS_DIR;
    const runText = async (...args: string[]): Promise<string> => {
      const out: string[] = [];
      const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (out.push(String(chunk)), true));
      try {
        const program = new Command('graft').exitOverride();
        registerModels(program);
        await program.parseAsync(['node', 'graft', 'models', ...args, '--cache-dir', cacheDir]);
      } finally {
        spy.mockRestore();
      }
      return out.join('');
    };
    const run = async (...args: string[]): Promise<unknown> => JSON.parse(await runText(...args, '--json'));
    try {
      const listed = (await run('list')) as ModelListItem[];
      expect(listed.find((m) => m.name === 'mobilenet_v2')).toMatchObject({ format: 'onnx', input_size: 224, feature_dim: 1280, cached: false, is_default: true });
      expect(listed.find((m) => m.name === 'nsfwjs_mobilenet_v2')?.cached).toBe('bundled');

      const info = (await run('info', 'mobilenet_v2')) as ModelInfo;
      expect(info.url).toBe(CATALOGUE.mobilenet_v2.url);
      expect(info.fetch_from).toBe(`${base}/models/mobilenetv2-int8-onnx/mobilenetv2-12-int8.onnx`);

      const pulled = (await run('pull', 'mobilenet_v2')) as PullResult;
      expect(pulled).toMatchObject({ name: 'mobilenet_v2', format: 'onnx', sha256: CATALOGUE.mobilenet_v2.sha256[0], fetched: true });
      expect(existsSync(pulled.path)).toBe(true);
      expect(((await run('pull', 'mobilenet_v2')) as PullResult).fetched).toBe(false);
      expect(((await run('list')) as ModelListItem[]).find((m) => m.name === 'mobilenet_v2')?.cached).toBe(true);
      // A cached copy damaged on disk is listed as such, not as cached; pulling replaces it.
      const bytes = readFileSync(pulled.path);
      bytes.fill(0, 100_000, 100_400);
      writeFileSync(pulled.path, bytes);
      expect(((await run('list')) as ModelListItem[]).find((m) => m.name === 'mobilenet_v2')?.cached).toBe('damaged');
      expect(await runText('list')).toMatch(/mobilenet_v2 \* +onnx +224 +1280 +damaged/);
      expect(await runText('info', 'mobilenet_v2')).toMatch(/cached +damaged, .*mobilenetv2-12-int8\.onnx \(graft models pull mobilenet_v2 replaces it\)/);
      expect(((await run('pull', 'mobilenet_v2')) as PullResult).fetched).toBe(true);
      expect(((await run('list')) as ModelListItem[]).find((m) => m.name === 'mobilenet_v2')?.cached).toBe(true);

      const table = await runText('list');
      expect(table).toMatch(/^name +format +input +features +cached +licence/);
      expect(table).toMatch(/mobilenet_v2 \* +onnx +224 +1280 +yes/);
      expect(await runText('info', 'resnet50_v1')).toContain('unverified');

      const unknown = (await run('info', 'resnet9000')) as { error: { code: string; hint: string } };
      expect(unknown.error.code).toBe('MODEL_NOT_FOUND');
      expect(unknown.error.hint).toContain('mobilenet_v2');
      process.exitCode = undefined;
    } finally {
      for (const [key, value] of [['GRAFT_HUB_MIRROR', saved.mirror], ['GRAFT_CONFIG', saved.config], ['GRAFT_MODELS_DIR', saved.models]] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });
});
