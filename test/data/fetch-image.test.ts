import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchImageBytes } from '../../src/data/fetch-image.js';

/** The bytes a healthy answer carries (any bytes: fetchImageBytes does not decode them). */
const IMAGE = Buffer.from('not decoded here, only fetched');

describe('graft predict <url>: an image fetched from the web, tried again when the failure may pass', () => {
  let server: Server;
  let base: string;
  const requests = new Map<string, number>();

  beforeAll(async () => {
    server = createServer((request, response) => {
      const path = request.url ?? '';
      const count = (requests.get(path) ?? 0) + 1;
      requests.set(path, count);
      // Busy twice, then the image: a server restarting behind a load balancer.
      if (path === '/busy-twice.jpg') return void (count <= 2 ? response.writeHead(503, { 'retry-after': '0' }).end() : response.end(IMAGE));
      if (path === '/always-busy.jpg') return void response.writeHead(502).end();
      if (path === '/back-in-an-hour.jpg') return void response.writeHead(503, { 'retry-after': '3600' }).end();
      if (path === '/gone.jpg') return void response.writeHead(404).end();
      if (path === '/to-a-file.jpg') return void response.writeHead(302, { location: 'file:///etc/passwd' }).end();
      // The first transfer breaks off half way (a reset connection); the second is whole.
      if (path === '/cut-once.jpg') {
        if (count > 1) return void response.end(IMAGE);
        response.writeHead(200, { 'content-length': String(IMAGE.length) });
        response.write(IMAGE.subarray(0, 5));
        return void setTimeout(() => response.socket?.destroy(), 20);
      }
      response.end(IMAGE);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => void server.close());

  const fetchCounting = async (path: string, options: { retries?: number } = {}) => {
    const said: string[] = [];
    const bytes = await fetchImageBytes(`${base}${path}`, { retryDelayMs: 10, onRetry: (message) => said.push(message), ...options });
    return { bytes, said, requests: requests.get(path) };
  };

  it('gets the image after a busy server and after a transfer cut off, saying each retry', async () => {
    const busy = await fetchCounting('/busy-twice.jpg');
    expect(busy.bytes).toEqual(IMAGE);
    expect(busy.requests).toBe(3);
    expect(busy.said).toEqual([
      `${base}/busy-twice.jpg: HTTP 503 Service Unavailable; trying again in 0.0 s (retry 1 of 2)`,
      `${base}/busy-twice.jpg: HTTP 503 Service Unavailable; trying again in 0.0 s (retry 2 of 2)`,
    ]);
    const cut = await fetchCounting('/cut-once.jpg');
    expect(cut.bytes).toEqual(IMAGE);
    expect(cut.requests).toBe(2);
    expect(cut.said).toHaveLength(1);
  });

  it('gives up after the retries, saying how often it tried; what will not pass is not tried again', async () => {
    const busy = await fetchCounting('/always-busy.jpg');
    expect(busy.bytes).toEqual({ reason: 'HTTP 502 Bad Gateway (tried 3 times)' });
    expect(busy.requests).toBe(3);
    expect((await fetchCounting('/always-busy.jpg', { retries: 0 })).bytes).toEqual({ reason: 'HTTP 502 Bad Gateway' });
    const gone = await fetchCounting('/gone.jpg');
    expect(gone).toMatchObject({ bytes: { reason: 'HTTP 404 Not Found' }, said: [], requests: 1 });
    // A redirect out of http(s) is refused, and not asked again as if it might pass.
    const toFile = await fetchCounting('/to-a-file.jpg');
    expect(toFile).toMatchObject({ bytes: { reason: expect.stringMatching(/^cannot fetch: .*URL scheme must be a HTTP\(S\) scheme$/) }, said: [], requests: 1 });
    // A wait beyond the image's 30 s is not waited for: the row says what the server asked.
    const later = await fetchCounting('/back-in-an-hour.jpg');
    expect(later).toMatchObject({ bytes: { reason: 'HTTP 503 Service Unavailable; the server asks to wait 3600 s' }, said: [], requests: 1 });
  });
});
