import { describe, expect, it } from 'vitest';
import type { ProgressEvent } from '../../src/core/progress.js';
import { ensureTfjsBackendChoice, warnOnFallback } from '../../src/runtime/tfjs-backend.js';

describe('the tfjs backend', () => {
  it('is wasm here, chosen once with no fallback to report, and leaves the process\'s crash handlers as they were', async () => {
    // The wasm module's own two rethrow: a stray error anywhere would end the process (exit 7) despite its handlers.
    const handlers = (): number[] => [process.listenerCount('uncaughtException'), process.listenerCount('unhandledRejection')];
    const before = handlers();
    const first = await ensureTfjsBackendChoice();
    expect(first).toEqual({ backend: 'wasm' });
    expect(await ensureTfjsBackendChoice()).toEqual(first);
    expect(handlers()).toEqual(before);
  });

  it('reports a fallback as a typed warning event, never silently', () => {
    const events: ProgressEvent[] = [];
    warnOnFallback((event) => events.push(event))('tfjs wasm backend unavailable (no wasm); using the pure-JS cpu backend, ~20x slower');
    expect(events).toEqual([{ type: 'warning', code: 'TFJS_CPU_FALLBACK', message: expect.stringContaining('~20x slower') }]);
    expect(() => warnOnFallback(undefined)('no listener: dropped by the caller\'s choice')).not.toThrow();
  });
});
