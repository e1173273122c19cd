import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { basename, join } from 'node:path';
import autocannon from 'autocannon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { multipartBody, requestCounts } from '../http-support.js';
import { repoRoot } from '../support.js';
import { removeTinyModel, trainTinyModel, type TinyModel } from '../web/web-support.js';

interface ServeProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly url: string;
  /** Where the start-up output says the API's OpenAPI document is. */
  readonly openapi: string;
  readonly exited: Promise<number | null>;
  stderr(): string;
}

/** `graft serve` as a user starts it, in its own process (so its RSS and its signal handling are its own). */
async function startServe(modelDir: string, extra: string[] = []): Promise<ServeProcess> {
  const child = spawn(process.execPath, [join(repoRoot, 'bin/graft.js'), 'serve', modelDir, '--port', '0', '--no-watch', '--json', ...extra]);
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const { url, openapi } = await new Promise<{ url: string; openapi: string }>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      if (stdout.trim().endsWith('}')) resolve(JSON.parse(stdout) as { url: string; openapi: string });
    });
    void exited.then((code) => reject(new Error(`graft serve exited with ${code}: ${stderr}`)));
  });
  return { child, url, openapi, exited, stderr: () => stderr };
}

/** Resident memory of a process in bytes (Linux /proc). */
async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
}

// Issue 9: load and faults for the server, bounded, on loopback.
describe('graft serve under load and at shutdown', () => {
  let model: TinyModel;
  let jpeg: Buffer;
  beforeAll(async () => {
    model = await trainTinyModel();
    jpeg = await readFile(model.data.files.find((f) => f.endsWith('.jpg'))!);
  });
  afterAll(async () => removeTinyModel(model));

  it('32 clients for 8 s with bad uploads mixed in: no 5xx, no dropped connection, RSS bounded, /healthz ok throughout', async () => {
    const serve = await startServe(model.dir, ['--max-upload-mb', '1']);
    try {
      expect(((await (await fetch(serve.openapi)).json()) as { openapi: string }).openapi).toBe('3.1.0');
      const predict = `/v1/models/${basename(model.dir)}/predict`;
      const unterminated = multipartBody('b0undary', [{ name: 'image', filename: 'a.jpg', type: 'image/jpeg', data: jpeg }]).subarray(0, 200);
      // Good and bad requests in turn on every connection.
      const requests = [
        { method: 'POST' as const, path: predict, headers: { 'content-type': 'image/jpeg' }, body: jpeg },
        { method: 'POST' as const, path: predict, headers: { 'content-type': 'image/jpeg' }, body: jpeg.subarray(0, 700) },
        { method: 'POST' as const, path: predict, headers: { 'content-type': 'text/plain' }, body: 'hello' },
        { method: 'POST' as const, path: predict, headers: { 'content-type': 'multipart/form-data' }, body: 'no boundary' },
        { method: 'POST' as const, path: predict, headers: { 'content-type': 'multipart/form-data; boundary=b0undary' }, body: unterminated },
        { method: 'POST' as const, path: predict, headers: { 'content-type': 'application/json' }, body: '{"images":[null]}' },
        { method: 'POST' as const, path: predict, headers: { 'content-type': 'image/png' }, body: '<svg xmlns="http://www.w3.org/2000/svg"/>' },
        { method: 'GET' as const, path: '/v1/models/nope' },
        { method: 'GET' as const, path: '/%25' },
      ];
      await autocannon({ url: serve.url, connections: 4, duration: 1, requests }); // warm-up: sessions, sharp, JIT
      const baseline = await rssBytes(serve.child.pid!);
      let peak = baseline;
      const health: number[] = [];
      let polling = true;
      const poll = (async () => {
        while (polling) {
          const started = performance.now();
          const response = await fetch(`${serve.url}/healthz`, { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
          health.push(response?.status === 200 ? performance.now() - started : -1);
          peak = Math.max(peak, await rssBytes(serve.child.pid!));
          await new Promise((r) => setTimeout(r, 200));
        }
      })();
      const result = await autocannon({ url: serve.url, connections: 32, duration: 8, requests, timeout: 30 });
      polling = false;
      await poll;
      const metrics = requestCounts(await (await fetch(`${serve.url}/metrics`)).text());
      const fiveHundreds = [...metrics].filter(([key]) => / 5\d\d$/.test(key));
      const summary = { requests: result.requests.total, '2xx': result['2xx'], '4xx': result['4xx'], '5xx': result['5xx'], errors: result.errors, timeouts: result.timeouts, rssBaselineMb: Math.round(baseline / 2 ** 20), rssPeakMb: Math.round(peak / 2 ** 20), healthMaxMs: Math.round(Math.max(...health)), healthChecks: health.length };
      console.log(`load: ${JSON.stringify(summary)}`);
      expect(result['5xx']).toBe(0);
      expect(fiveHundreds).toEqual([]);
      expect(result.errors + result.timeouts).toBe(0);
      expect(result['2xx']).toBeGreaterThan(0);
      expect(result['4xx']).toBeGreaterThan(result['2xx']); // most requests were bad ones, and each got its 4xx
      expect(health.length).toBeGreaterThanOrEqual(20);
      expect(health.every((ms) => ms >= 0)).toBe(true);
      expect(peak - baseline).toBeLessThan(300 * 2 ** 20);
    } finally {
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
  }, 60_000);

  it('SIGTERM with requests in flight: every one is answered, then the process exits 0', async () => {
    // A long batching window keeps the requests waiting inside the server when the signal arrives.
    const serve = await startServe(model.dir, ['--batch-window-ms', '1500']);
    const name = (await (await fetch(`${serve.url}/v1/models`)).json()) as { models: { name: string }[] };
    const predict = `${serve.url}/v1/models/${name.models[0]!.name}/predict`;
    // In flight = sent whole before the signal (a request that reaches a closing server is refused, rightly).
    const sent: Promise<void>[] = [];
    const statuses = Array.from({ length: 16 }, () =>
      new Promise<number | string>((resolveStatus) => {
        const req = httpRequest(predict, { method: 'POST', headers: { 'content-type': 'image/jpeg', 'content-length': jpeg.length } }, (res) => {
          res.resume();
          res.on('end', () => resolveStatus(res.statusCode ?? 0));
        });
        req.on('error', (e) => resolveStatus(String(e)));
        sent.push(new Promise((resolveSent) => req.on('finish', () => resolveSent())));
        req.end(jpeg);
      }),
    );
    await Promise.all(sent);
    await new Promise((r) => setTimeout(r, 300)); // parsed and waiting in the batcher (its window is 1.5 s)
    serve.child.kill('SIGTERM');
    expect(await Promise.all(statuses)).toEqual(Array.from({ length: 16 }, () => 200));
    expect(await serve.exited).toBe(0);
    expect(serve.stderr()).toMatch(/SIGTERM: shutting down/);
    await expect(fetch(`${serve.url}/healthz`)).rejects.toThrow();
  }, 60_000);
});
