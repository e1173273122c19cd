import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { cp, open, readFile, utimes, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import autocannon from 'autocannon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { multipartBody, parseRawResponse, rawSocket, requestCounts } from '../http-support.js';
import { decodeOnnxModel, encodeOnnxModel, graphOf, makeFloatInitializer } from '../../src/onnx/onnx-model.js';
import { parseJsonOutput, repoRoot, runCli, type CliRun } from '../support.js';
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
function startServe(modelDir: string, extra: string[] = [], options: { watch?: boolean } = {}): Promise<ServeProcess> {
  return startGraft(['serve', modelDir, '--port', '0', ...(options.watch ? [] : ['--no-watch']), '--json', ...extra]);
}

/** A `graft serve` or `graft ui` started with --json, once it has printed its start-up object; `nodeArgs` go to Node. */
async function startGraft(args: string[], env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<ServeProcess> {
  const child = spawn(process.execPath, [...nodeArgs, join(repoRoot, 'bin/graft.js'), ...args], { env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const { url, openapi } = await new Promise<{ url: string; openapi: string }>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      if (stdout.trim().endsWith('}')) resolve(JSON.parse(stdout) as { url: string; openapi: string });
    });
    void exited.then((code) => reject(new Error(`graft ${args[0]} exited with ${code}: ${stderr}`)));
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
      // Each check: when it was sent, and how long its 200 took (-1: no 200 within 5 s).
      const health: { at: number; ms: number }[] = [];
      let polling = true;
      const loadStarted = performance.now();
      const poll = (async () => {
        while (polling) {
          const started = performance.now();
          const response = await fetch(`${serve.url}/healthz`, { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
          health.push({ at: started - loadStarted, ms: response?.status === 200 ? performance.now() - started : -1 });
          peak = Math.max(peak, await rssBytes(serve.child.pid!));
          await new Promise((r) => setTimeout(r, 200));
        }
      })();
      const result = await autocannon({ url: serve.url, connections: 32, duration: 8, requests, timeout: 30 });
      polling = false;
      await poll;
      const metrics = requestCounts(await (await fetch(`${serve.url}/metrics`)).text());
      const fiveHundreds = [...metrics].filter(([key]) => / 5\d\d$/.test(key));
      const summary = { requests: result.requests.total, '2xx': result['2xx'], '4xx': result['4xx'], '5xx': result['5xx'], errors: result.errors, timeouts: result.timeouts, rssBaselineMb: Math.round(baseline / 2 ** 20), rssPeakMb: Math.round(peak / 2 ** 20), healthMaxMs: Math.round(Math.max(...health.map((h) => h.ms))), healthChecks: health.length };
      console.log(`load: ${JSON.stringify(summary)}`);
      expect(result['5xx']).toBe(0);
      expect(fiveHundreds).toEqual([]);
      expect(result.errors + result.timeouts).toBe(0);
      expect(result['2xx']).toBeGreaterThan(0);
      expect(result['4xx']).toBeGreaterThan(result['2xx']); // most requests were bad ones, and each got its 4xx
      // Throughout: a check was sent in every 2 s of the 8, whatever the machine's load (a count of checks is not: it
      // fell to 18 of the 20 once asked for when two busy loops shared the cores), and every one was answered 200.
      for (let second = 0; second < 8; second += 2) expect(health.some((h) => h.at >= second * 1000 && h.at < (second + 2) * 1000), `a /healthz check sent in seconds ${second}-${second + 2}`).toBe(true);
      expect(health.filter((h) => h.ms < 0)).toEqual([]);
      expect(peak - baseline).toBeLessThan(300 * 2 ** 20);
    } finally {
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
  });

  it('SIGTERM with requests in flight: every one is answered, then the process exits 0 (and --log off prints no lines)', async () => {
    // A long batching window keeps the requests waiting inside the server when the signal arrives.
    const serve = await startServe(model.dir, ['--batch-window-ms', '1500', '--log', 'off']);
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
    // Parsed and waiting in the batcher (its window is 1.5 s): a request on a connection opened after theirs is
    // accepted and read after them, so once it is answered theirs are inside the server. A fixed 300 ms was not
    // enough on a busy machine: the signal came first and their connections, still unread, were reset.
    await new Promise<void>((answered, failed) => httpRequest(`${serve.url}/healthz`, { agent: false }, (res) => res.resume().on('end', answered)).on('error', failed).end());
    serve.child.kill('SIGTERM');
    expect(await Promise.all(statuses)).toEqual(Array.from({ length: 16 }, () => 200));
    expect(await serve.exited).toBe(0);
    expect(serve.stderr()).toMatch(/SIGTERM: shutting down/);
    expect(serve.stderr()).not.toMatch(/ POST \/v1\/models|"requestId"/);
    await expect(fetch(`${serve.url}/healthz`)).rejects.toThrow();
  });

  // Access logs: a line per request on stderr (stdout keeps the one --json object), with the request's id, which the
  // reply's X-Request-Id header and every error body also carry.
  it('--log json: an object per line naming the request id, model and images; hostile ids replaced; no token, no probes', async () => {
    const token = 'serve-log-secret-token-0123456789';
    const serve = await startServe(model.dir, ['--log', 'json', '--token', token]);
    try {
      const name = basename(model.dir);
      const auth = { authorization: `Bearer ${token}` };
      const predicted = await fetch(`${serve.url}/v1/models/${name}/predict?top_k=2`, { method: 'POST', headers: { ...auth, 'content-type': 'image/jpeg', 'x-request-id': 'client-42' }, body: jpeg });
      expect([predicted.status, predicted.headers.get('x-request-id')]).toEqual([200, 'client-42']);
      const missing = await fetch(`${serve.url}/no/such/page?key=${token}`, { headers: { ...auth, 'x-request-id': 'trace-404' } });
      expect([missing.status, ((await missing.json()) as ErrorJson).error.requestId]).toEqual([404, 'trace-404']);
      const text = await fetch(`${serve.url}/v1/models/${name}/predict`, { method: 'POST', headers: { ...auth, 'content-type': 'text/plain' }, body: 'hi' });
      const textId = text.headers.get('x-request-id');
      expect([text.status, ((await text.json()) as ErrorJson).error.requestId]).toEqual([415, textId]);
      const unauthorized = await fetch(`${serve.url}/v1/models`, { headers: { 'x-request-id': 'no-token' } });
      expect([unauthorized.status, ((await unauthorized.json()) as ErrorJson).error.requestId]).toEqual([401, 'no-token']);
      // Ids that would forge or flood a line: too long, with spaces and quotes, with a bare CR (only a raw socket sends it).
      const hostile = ['h'.repeat(300), 'x" 200 0ms id=forged'];
      for (const id of hostile) {
        const response = await fetch(`${serve.url}/v1/models/${name}`, { headers: { ...auth, 'x-request-id': id } });
        expect(response.headers.get('x-request-id')).toMatch(UUID);
      }
      const raw = await rawSocket(serve.url, `GET /v1/models/${name} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nX-Request-Id: cr\rforged\r\nConnection: close\r\n\r\n`);
      // node's parser refuses a bare CR: the answer and the line are a 400 with an id of the server's.
      const rawReply = parseRawResponse(raw) as { status: number; body: ErrorJson };
      expect([rawReply.status, rawReply.body.error.requestId]).toEqual([400, expect.stringMatching(UUID)]);
      expect(raw).not.toMatch(/forged/);
      for (const probe of ['/healthz', '/readyz']) expect((await fetch(`${serve.url}${probe}`, { headers: { 'x-request-id': 'probe' } })).status).toBe(200);

      const entries = await logEntries(serve, 7);
      const byId = (id: string | null) => entries.filter((e) => e.requestId === id);
      expect(byId('client-42')).toEqual([expect.objectContaining({ method: 'POST', path: `/v1/models/${name}/predict`, status: 200, model: name, images: 1 })]);
      expect(byId('client-42')[0]!.error).toBeUndefined();
      expect(byId('trace-404')).toEqual([expect.objectContaining({ method: 'GET', path: '/no/such/page', status: 404, error: { code: 'NOT_FOUND' } })]);
      expect(byId(textId)).toEqual([expect.objectContaining({ path: `/v1/models/${name}/predict`, status: 415, error: { code: 'UNSUPPORTED_MEDIA_TYPE' } })]);
      expect(byId('no-token')).toEqual([expect.objectContaining({ status: 401, error: { code: 'UNAUTHORIZED' } })]);
      for (const e of entries) {
        expect(e.time).toMatch(/^\d{4}-\d\d-\d\dT/);
        expect(e.durationMs).toBeGreaterThanOrEqual(0);
      }
      expect(entries.filter((e) => e.path === `/v1/models/${name}` && UUID.test(e.requestId))).toHaveLength(2);
      expect(byId(rawReply.body.error.requestId!)).toEqual([expect.objectContaining({ method: '-', path: '-', status: 400, error: { code: 'BAD_REQUEST' } })]);
      expect(entries.map((e) => e.path)).not.toContain('/healthz');
      expect(entries.map((e) => e.path)).not.toContain('/readyz');
      expect(serve.stderr()).not.toContain(token);
      expect(serve.stderr()).not.toMatch(/forged|hhhhhhhhhh|probe/);
    } finally {
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
  });

  it('--log text (the default): a line per predict, 404, 415 and 503 with status, ms, id and the error; --log-probes adds the probes', async () => {
    const serve = await startServe(model.dir, ['--log-probes']);
    try {
      const name = basename(model.dir);
      await fetch(`${serve.url}/v1/models/${name}/predict`, { method: 'POST', headers: { 'content-type': 'image/jpeg', 'x-request-id': 'text-200' }, body: jpeg });
      await fetch(`${serve.url}/v1/models/nope`, { headers: { 'x-request-id': 'text-404' } });
      await fetch(`${serve.url}/v1/models/${name}/predict`, { method: 'POST', headers: { 'content-type': 'text/plain', 'x-request-id': 'text-415' }, body: 'hi' });
      await fetch(`${serve.url}/healthz`, { headers: { 'x-request-id': 'text-probe' } });
      await waitFor(() => serve.stderr().includes('id=text-probe'));
      const line = (id: string) => serve.stderr().split('\n').filter((l) => l.includes(` id=${id}`));
      const prefix = String.raw`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`;
      expect(line('text-200')).toEqual([expect.stringMatching(new RegExp(`${prefix} POST /v1/models/${name}/predict 200 [\\d.]+ms id=text-200 model=${name} images=1$`))]);
      expect(line('text-404')).toEqual([expect.stringMatching(new RegExp(`${prefix} GET /v1/models/nope 404 [\\d.]+ms id=text-404 error=MODEL_NOT_FOUND$`))]);
      expect(line('text-415')).toEqual([expect.stringMatching(new RegExp(`${prefix} POST /v1/models/${name}/predict 415 [\\d.]+ms id=text-415 error=UNSUPPORTED_MEDIA_TYPE$`))]);
      expect(line('text-probe')).toEqual([expect.stringMatching(/ GET \/healthz 200 /)]);
    } finally {
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
    // A server error's line says what went wrong. A 1 ms deadline is always missed (the batcher alone waits 3 ms).
    const late = await startServe(model.dir, ['--timeout-ms', '1', '--verbose']);
    try {
      const response = await fetch(`${late.url}/v1/models/${basename(model.dir)}/predict`, { method: 'POST', headers: { 'content-type': 'image/jpeg', 'x-request-id': 'text-503' }, body: jpeg });
      expect(response.status).toBe(503);
      await waitFor(() => late.stderr().includes('id=text-503'));
      const lines = late.stderr().split('\n');
      const at = lines.findIndex((l) => l.includes(' id=text-503'));
      expect(lines[at]).toMatch(/ 503 [\d.]+ms id=text-503 model=\S+ images=1 error=TIMEOUT "The request took longer than 1 ms\."$/);
      // --verbose adds a stack only to an INTERNAL error, an unexpected one: a timeout is not.
      expect(lines[at + 1] ?? '').not.toMatch(/^\s+at /);
    } finally {
      late.child.kill('SIGTERM');
      await late.exited;
    }
  });

  // With --log json a log shipper meets no other line: reloads, failed reloads, warnings and the shutdown are objects too.
  it('--log json: a reload, a failed reload, a warning and the shutdown are JSON objects, like every other line on stderr', async () => {
    const copy = join(model.root, 'reloading');
    await cp(model.dir, copy, { recursive: true });
    const token = 'serve-notice-secret-token-0123456789';
    // 0.0.0.0 with a token: the dashboard-less API is not open, but --train makes the exposure warning.
    const serve = await startServe(copy, ['--log', 'json', '--token', token, '--host', '0.0.0.0', '--train', join(model.root, 'reloading-ui')], { watch: true });
    try {
      const notices = () => serve.stderr().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Notice).filter((n) => n.event);
      const now = new Date();
      await utimes(join(copy, 'graft.json'), now, now);
      await waitFor(() => notices().some((n) => n.event === 'reload'), 10_000);
      await writeFile(join(copy, 'model.onnx'), 'not a model');
      await waitFor(() => notices().some((n) => n.event === 'reload-failed'), 10_000);
      serve.child.kill('SIGTERM');
      expect(await serve.exited).toBe(0);
      expect(notices()).toEqual([
        expect.objectContaining({ event: 'warning', level: 'warning', message: expect.stringMatching(/^the dashboard listens on 0\.0\.0\.0/) }),
        expect.objectContaining({ event: 'reload', level: 'info', model: 'reloading', labels: 3, message: 'reloaded reloading: 3 labels' }),
        expect.objectContaining({ event: 'reload-failed', level: 'error', model: 'reloading', message: expect.stringMatching(/^reload of reloading failed \(still serving the previous version\): /) }),
        expect.objectContaining({ event: 'shutdown', level: 'info', message: expect.stringMatching(/^SIGTERM: shutting down/) }),
      ]);
      for (const n of notices()) expect(n.time).toMatch(/^\d{4}-\d\d-\d\dT/);
      const lines = serve.stderr().split('\n').filter((l) => l !== '');
      for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
    } finally {
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
  });

  // --log json from the first line to the last: a failure to start is one object too (with --json also the error
  // object on stdout), and so is what the engines print: onnxruntime's native warning for a model with an unused
  // weight (at load and at reload), and tfjs's console lines when WebAssembly is off (the cpu backend then trains
  // graft ui's MLP head). Every line on stderr is parsed. Both servers run for both tests: the first fails to start
  // others on the port and the data folder they hold.
  describe('--log json from the first line to the last', () => {
    // V8's --no-expose-wasm did this until Node 24, which no longer has the flag: the global is gone before Graft loads.
    const WITHOUT_WEBASSEMBLY = ['--import', 'data:text/javascript,delete globalThis.WebAssembly'];
    const token = 'engine-log-secret-token-0123456789';
    const auth = { authorization: `Bearer ${token}` };
    const env = { GRAFT_TOKEN: token, GRAFT_CACHE_DIR: join(tmpdir(), 'graft-web-tests-cache') };
    let unused: string;
    let uiData: string;
    let serve: ServeProcess;
    let ui: ServeProcess;
    beforeAll(async () => {
      // A model whose ONNX file holds an initializer no node uses: onnxruntime warns "Removing initializer ..." on
      // fd 2 for every session it makes of it.
      unused = join(model.root, 'unused-weight');
      await cp(model.dir, unused, { recursive: true });
      const onnx = decodeOnnxModel(await readFile(join(unused, 'model.onnx')), 'model.onnx');
      graphOf(onnx).initializer!.push(makeFloatInitializer('unused_weight', [2], new Float32Array([1, 2])));
      await writeFile(join(unused, 'model.onnx'), encodeOnnxModel(onnx));
      // Edited after training: graft.json no longer holds its hash (as a directory of an earlier Graft).
      const manifest = JSON.parse(await readFile(join(unused, 'graft.json'), 'utf8')) as { files: { onnxSha256?: string } };
      delete manifest.files.onnxSha256;
      await writeFile(join(unused, 'graft.json'), JSON.stringify(manifest));
      uiData = join(model.root, 'engine-ui');
      [serve, ui] = await Promise.all([
        startServe(unused, ['--log', 'json'], { watch: true }),
        startGraft(['ui', '--port', '0', '--data-dir', uiData, '--data-root', model.data.root, '--json', '--log', 'json'], env, WITHOUT_WEBASSEMBLY),
      ]);
    });
    afterAll(async () => {
      for (const server of [serve, ui]) {
        server?.child.kill('SIGTERM');
        await server?.exited;
      }
    });

    it('a failure to start (port in use, not a model, weak token, locked data folder, usage error) is one JSON line', async () => {
      const port = new URL(serve.url).port;
      const [inUse, inUseJson, notModel, weakToken, locked, usage] = await Promise.all([
        runCli(['serve', model.dir, '--port', port, '--log', 'json'], env),
        runCli(['serve', model.dir, '--port', port, '--log', 'json', '--json'], env),
        runCli(['serve', model.data.root, '--port', '0', '--log=json'], env),
        runCli(['ui', '--port', '0', '--data-dir', join(model.root, 'weak-ui'), '--log', 'json'], { ...env, GRAFT_TOKEN: 'short' }),
        runCli(['ui', '--port', '0', '--data-dir', uiData, '--log', 'json'], env),
        runCli(['serve', model.dir, '--port', 'abc', '--log', 'json'], env),
      ]);
      const failure = (run: CliRun): Notice => {
        const lines = jsonLines(run.stderr);
        expect(lines, run.stderr).toHaveLength(1);
        expect(lines[0]).toEqual({ time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), event: 'error', level: 'error', code: expect.any(String), message: expect.any(String), hint: expect.any(String) });
        return lines[0]!;
      };
      const portTaken = failure(inUse);
      expect([inUse.code, inUse.stdout, portTaken]).toEqual([2, '', expect.objectContaining({ code: 'INVALID_CONFIG', message: `Cannot listen: port ${port} on 127.0.0.1 is already in use` })]);
      // --json keeps its stdout object; stderr has the same failure as one JSON line.
      const { code, message, hint } = portTaken;
      expect([inUseJson.code, parseJsonOutput(inUseJson), failure(inUseJson)]).toEqual([2, { error: { code, message, hint } }, expect.objectContaining({ code, message, hint })]);
      expect([notModel.code, failure(notModel)]).toEqual([3, expect.objectContaining({ code: 'INVALID_MODEL_DIR' })]);
      expect([weakToken.code, failure(weakToken)]).toEqual([2, expect.objectContaining({ code: 'INVALID_CONFIG', message: expect.stringMatching(/^The token from \$GRAFT_TOKEN must be/) })]);
      expect([locked.code, failure(locked)]).toEqual([2, expect.objectContaining({ code: 'INVALID_CONFIG', message: expect.stringMatching(/is in use by another graft ui/) })]);
      expect([usage.code, failure(usage)]).toEqual([2, expect.objectContaining({ code: 'INVALID_CONFIG', message: expect.stringMatching(/'--port <port>' argument 'abc' is invalid/), hint: 'see graft serve --help' })]);
    });

    it("what onnxruntime (natively) and tfjs (through console) print never makes a line that is not JSON", async () => {
      // serve: a prediction, and a reload, which makes a new session of the model.
      const predicted = await fetch(`${serve.url}/v1/models/unused-weight/predict`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: jpeg });
      expect(predicted.status).toBe(200);
      const now = new Date();
      await utimes(join(unused, 'graft.json'), now, now);
      await waitFor(() => serve.stderr().includes('"event":"reload"'), 10_000);

      // graft ui without WebAssembly: a run with an MLP head trains in tfjs on its cpu backend, then predicts.
      const json = (body: unknown) => ({ method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const project = (await (await fetch(`${ui.url}/v1/projects`, json({ name: 'shapes', folder: model.data.root }))).json()) as { id: number };
      const run = (await (await fetch(`${ui.url}/v1/projects/${project.id}/runs`, json({ backbone: 'nsfwjs_mobilenet_v2', hidden: 8, epochs: 2 }))).json()) as { id: number };
      expect(await (await fetch(`${ui.url}/v1/runs/${run.id}/events`, { headers: auth })).text()).toMatch(/"status":"finished"/);
      expect((await fetch(`${ui.url}/v1/runs/${run.id}/predict`, json({ image: jpeg.toString('base64') }))).status).toBe(200);

      for (const server of [serve, ui]) {
        server.child.kill('SIGTERM');
        expect(await server.exited).toBe(0);
      }
      expect(serve.stderr()).not.toMatch(/onnxruntime|Removing initializer/);
      expect(jsonLines(serve.stderr()).map((l) => l.event ?? l.path)).toEqual(['/v1/models/unused-weight/predict', 'reload', 'shutdown']);
      const uiLines = jsonLines(ui.stderr());
      expect(uiLines.filter((l) => l.event === 'console')).toEqual(expect.arrayContaining([
        { time: expect.any(String), event: 'console', level: 'warning', source: 'console.warn', package: '@tensorflow/tfjs-core', message: 'Initialization of backend wasm failed' },
        expect.objectContaining({ level: 'warning', source: 'console.warn', package: '@tensorflow/tfjs-core', message: expect.stringMatching(/Hi, looks like you are running TensorFlow\.js in Node\.js/) }),
      ]));
      expect(uiLines.filter((l) => l.event !== 'console').map((l) => l.event ?? l.path)).toEqual(['/v1/projects', `/v1/projects/${project.id}/runs`, `/v1/runs/${run.id}/events`, `/v1/runs/${run.id}/predict`, 'shutdown']);
    });
  });

  // A genuine INTERNAL 500, no stub: the dashboard's store damaged under the running server, its SQLite files
  // overwritten in place (same inodes), as a bad restore or another program writing into the data folder would.
  // Every request that reads the store fails (SQLITE_NOTADB); what does not need it goes on.
  it('--log json: an exception nothing caught, thrown or a rejected promise, ends the process with exit 1 as one crash object', async () => {
    // Preloaded into the real process (Node's --import): each throws once the server has printed its start-up object.
    const preload = (code: string) =>
      `const write = process.stdout.write.bind(process.stdout); process.stdout.write = (chunk, ...rest) => { if (String(chunk).includes('"url"')) setTimeout(() => { ${code} }, 50); return write(chunk, ...rest); };`;
    const crash = (code: string) => ['--import', `data:text/javascript,${encodeURIComponent(preload(code))}`];
    const [thrown, rejected] = await Promise.all([
      startGraft(['serve', model.dir, '--port', '0', '--no-watch', '--json', '--log', 'json'], {}, crash("throw new RangeError('thrown by a test')")),
      startGraft(['serve', model.dir, '--port', '0', '--no-watch', '--json', '--log', 'json'], {}, crash("Promise.reject(new Error('rejected by a test'))")),
    ]);
    for (const [server, origin, message] of [
      [thrown, 'uncaughtException', 'RangeError: thrown by a test'],
      [rejected, 'unhandledRejection', 'Error: rejected by a test'],
    ] as const) {
      expect(await server.exited).toBe(1);
      const lines = server.stderr().split('\n').filter((l) => l !== '');
      // Every line parses (Node's own report would be text: the stack, then "Node.js v20...").
      const objects = lines.map((l) => JSON.parse(l) as Notice & { source?: string; stack?: string });
      expect(objects.at(-1)).toMatchObject({ event: 'crash', level: 'error', source: origin, message, stack: expect.stringContaining('data:text/javascript') });
    }
  });

  it('graft ui --log json/text: a real INTERNAL 500 (a damaged store) names only its request id; its line has the message, and the stack only with --verbose', async () => {
    const token = 'ui-log-secret-token-0123456789';
    const auth = { authorization: `Bearer ${token}` };
    const args = (dataDir: string) => ['ui', '--port', '0', '--data-dir', dataDir, '--json'];
    const dataDir = join(model.root, 'ui-data');
    const ui = await startGraft([...args(dataDir), '--log', 'json', '--verbose'], { GRAFT_TOKEN: token });
    try {
      const created = await fetch(`${ui.url}/v1/projects`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'before' }) });
      expect(created.status).toBe(201);
      await damageStore(dataDir);
      const failed = await fetch(`${ui.url}/v1/projects`, { headers: { ...auth, 'x-request-id': 'ui-500' } });
      // Nothing of the fault (SQLite's words, the data folder's path): only where the server's log has it.
      expect([failed.status, await failed.json()]).toEqual([500, { error: { code: 'INTERNAL', message: "Internal error; the server's log has the details under request id ui-500.", requestId: 'ui-500' } }]);
      // It keeps serving what does not need the store: the probe, the data roots.
      expect((await fetch(`${ui.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${ui.url}/v1/data-roots`, { headers: { ...auth, 'x-request-id': 'ui-200' } })).status).toBe(200);
      const entries = await logEntries(ui, 3);
      const line = entries.find((e) => e.requestId === 'ui-500')!;
      expect(line).toMatchObject({ method: 'GET', path: '/v1/projects', status: 500, error: { code: 'INTERNAL', message: 'SQLITE_NOTADB: file is not a database' } });
      expect(line.error!.stack).toMatch(/\n\s+at .*dashboard-store/);
      expect(entries.find((e) => e.requestId === 'ui-200')).toMatchObject({ status: 200 });
      expect(entries.map((e) => e.path)).not.toContain('/healthz');
      ui.child.kill('SIGTERM');
      expect(await ui.exited).toBe(0);
      const lines = ui.stderr().split('\n').filter((l) => l !== '');
      for (const l of lines) expect(() => JSON.parse(l), l).not.toThrow();
      expect(lines.map((l) => (JSON.parse(l) as Notice).event).filter(Boolean)).toEqual(['shutdown']);
      expect(ui.stderr()).not.toContain(token);
    } finally {
      ui.child.kill('SIGTERM');
      await ui.exited;
    }
    // The default text log, without --verbose: the line and the message, no stack.
    const textDir = join(model.root, 'ui-data-text');
    const text = await startGraft(args(textDir), { GRAFT_TOKEN: token });
    try {
      await damageStore(textDir);
      expect((await fetch(`${text.url}/v1/projects`, { headers: { ...auth, 'x-request-id': 'ui-text-500' } })).status).toBe(500);
      await waitFor(() => text.stderr().includes('id=ui-text-500'));
      const lines = text.stderr().split('\n');
      const at = lines.findIndex((l) => l.includes(' id=ui-text-500'));
      expect(lines[at]).toMatch(/^\S+ GET \/v1\/projects 500 [\d.]+ms id=ui-text-500 error=INTERNAL "SQLITE_NOTADB: file is not a database"$/);
      expect(lines[at + 1] ?? '').not.toMatch(/^\s+at /);
    } finally {
      text.child.kill('SIGTERM');
      await text.exited;
    }
  });
});

interface Notice {
  time: string;
  event?: string;
  path?: string;
  level?: string;
  message?: string;
  code?: string;
  hint?: string;
}

interface ErrorJson {
  error: { code: string; message: string; requestId?: string };
}

interface LogEntry {
  time: string;
  method: string;
  path: string;
  status: number;
  durationMs: number;
  requestId: string;
  model?: string;
  images?: number;
  error?: { code: string; message?: string; stack?: string };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Overwrites the dashboard store's SQLite files (the database, its write-ahead log and shared index) in place with
 * bytes that are no database, keeping their sizes and inodes: the server's open connection then reads garbage.
 */
async function damageStore(dataDir: string): Promise<void> {
  for (const name of ['dashboard.sqlite', 'dashboard.sqlite-wal', 'dashboard.sqlite-shm']) {
    const file = await open(join(dataDir, name), 'r+');
    try {
      const { size } = await file.stat();
      await file.write(Buffer.alloc(size, 0x5a), 0, size, 0);
    } finally {
      await file.close();
    }
  }
}

/** Resolves once `isDone` holds; a line is written just after its reply is sent, so it may trail the reply a little (seconds on a busy machine: the bound is generous, and costs nothing when it holds). */
async function waitFor(isDone: () => boolean, timeoutMs = 30_000): Promise<void> {
  for (const started = Date.now(); !isDone(); ) {
    if (Date.now() - started > timeoutMs) throw new Error('timed out waiting for the access log');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Every line of `stderr` as JSON: a line that is not one fails the test, naming it. */
function jsonLines(stderr: string): Notice[] {
  return stderr
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      expect(() => JSON.parse(line), line).not.toThrow();
      return JSON.parse(line) as Notice;
    });
}

/** The access log's JSON lines on stderr, once there are at least `count`; every one must parse on its own. */
async function logEntries(serve: ServeProcess, count: number): Promise<LogEntry[]> {
  const lines = () => serve.stderr().split('\n').filter((line) => line.startsWith('{'));
  await waitFor(() => lines().length >= count);
  return lines().map((line) => JSON.parse(line) as LogEntry);
}
