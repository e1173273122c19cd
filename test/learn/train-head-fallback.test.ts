import { describe, expect, it, vi } from 'vitest';
import type { ProgressEvent } from '../../src/core/progress.js';
import { trainConfigFrom } from '../../src/learn/train-config.js';
import { trainHead } from '../../src/learn/train-head.js';
import { clusters } from './clusters.js';

// tfjs without its wasm backend (its .wasm files missing, say): the backend reports the fallback, and so must training.
vi.mock('../../src/runtime/tfjs-backend.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../src/runtime/tfjs-backend.js')>();
  return {
    ...actual,
    ensureTfjsBackend: async (onFallback?: (reason: string) => void) => {
      onFallback?.('tfjs wasm backend unavailable (test); using the pure-JS cpu backend, ~20x slower');
      return actual.ensureTfjsBackend();
    },
  };
});

describe('an MLP head on a tfjs without wasm', () => {
  it('reports the ~20x slower cpu backend as a TFJS_CPU_FALLBACK warning, which the typed contract promises', async () => {
    const { rows, labels } = clusters(40, 8, 2, 1, 1);
    const events: ProgressEvent[] = [];
    await trainHead({ features: rows, labels }, undefined, 2, trainConfigFrom({ epochs: 2, head: { hidden: [8] } }), (e) => events.push(e));
    expect(events.filter((e) => e.type === 'warning')).toEqual([{ type: 'warning', code: 'TFJS_CPU_FALLBACK', message: expect.stringContaining('~20x slower') }]);
  });
});
