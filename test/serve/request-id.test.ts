import { describe, expect, it } from 'vitest';
import { requestIdFor } from '../../src/serve/request-id.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// test/serve/load.slow.test.ts checks the ids a real server echoes, logs and puts in error bodies.
describe('request ids', () => {
  it("keeps a client's safe X-Request-Id and replaces one that could forge a log line", () => {
    for (const safe of ['client-42', '4f1c2a9e-0b7d-4c55-9a1e-3f1c2a9e0b7d', 'trace:a1/b2+c3=', 'x'.repeat(128)]) expect(requestIdFor(safe)).toBe(safe);
    for (const hostile of ['', 'x'.repeat(129), 'a\nGET / 200 0ms id=forged', 'a b', 'a"b', 'caf\u00e9']) {
      expect(requestIdFor(hostile), JSON.stringify(hostile)).toMatch(UUID);
    }
    expect(requestIdFor(['a', 'b'])).toMatch(UUID);
    expect(requestIdFor(undefined)).toMatch(UUID);
  });
});
