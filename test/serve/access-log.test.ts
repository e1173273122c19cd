import { describe, expect, it } from 'vitest';
import { formatAccessLine, type AccessLogEntry } from '../../src/serve/access-log.js';

// The pure parts of `graft serve --log`; test/serve/load.slow.test.ts checks the lines a real server prints.
describe('access log lines', () => {
  it('a server error carries its code and message, and its stack only when asked (--verbose)', () => {
    const error = new Error('onnxruntime failed\nsecond line');
    const entry: AccessLogEntry = {
      time: '2026-12-06T20:55:25.123Z',
      method: 'POST',
      path: '/v1/models/bees/predict',
      status: 500,
      durationMs: 12.3,
      requestId: 'client-42',
      model: 'bees',
      images: 2,
      error: { code: 'INTERNAL', message: 'Internal error: onnxruntime failed\nsecond line', stack: error.stack! },
    };
    const text = formatAccessLine(entry, 'text', { withStack: false });
    expect(text).toBe('2026-12-06T20:55:25.123Z POST /v1/models/bees/predict 500 12.3ms id=client-42 model=bees images=2 error=INTERNAL "Internal error: onnxruntime failed\\nsecond line"');
    const verbose = formatAccessLine(entry, 'text', { withStack: true }).split('\n');
    expect(verbose[0]).toBe(text);
    expect(verbose.slice(1).every((line) => line.startsWith('  '))).toBe(true);
    expect(verbose.join('\n')).toContain('access-log.test.ts');
    const json = formatAccessLine(entry, 'json', { withStack: false });
    expect(json).not.toContain('\n');
    expect(JSON.parse(json)).toEqual({ ...entry, error: { code: 'INTERNAL', message: entry.error!.message } });
    expect(JSON.parse(formatAccessLine(entry, 'json', { withStack: true })).error.stack).toBe(error.stack);
  });
});
