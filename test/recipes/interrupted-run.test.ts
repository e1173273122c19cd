import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraftError } from '../../src/core/errors.js';
import type { ProgressEvent } from '../../src/core/progress.js';
import { InterruptedRun } from '../../src/recipes/interrupted-run.js';

const extract = (cached: number, computed: number): ProgressEvent => ({ type: 'extract', done: cached + computed, total: 100, cached, computed, imgPerSec: 10 });
const cacheFull: ProgressEvent = { type: 'warning', code: 'CACHE_FULL', message: 'The disk holding the cache is full' };

/** The message a CANCELLED error becomes after these events reached the run's listener. */
function interruptedAfter(out: string, events: readonly ProgressEvent[]): string {
  const run = new InterruptedRun(out);
  const listen = run.listen(undefined);
  for (const event of events) listen(event);
  return (run.explain(new GraftError('CANCELLED', 'Stopped')) as GraftError).message;
}

describe('InterruptedRun: what a cancelled train() says it kept', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'graft-interrupted-'));
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('counts the features read from and written to the cache', () => {
    expect(interruptedAfter(join(root, 'm'), [extract(5, 10), extract(5, 30)])).toBe(`Training was interrupted: nothing was written to ${join(root, 'm')}; the features of 35 images are in the feature cache`);
  });

  it('after a CACHE_FULL warning, counts only what was written before it, and says why', () => {
    expect(interruptedAfter(root, [extract(5, 10), cacheFull, extract(5, 20), extract(5, 30)])).toBe(
      `Training was interrupted: ${root} is as it was; the features of 15 images are in the feature cache (then its disk was full: those computed after were not kept)`,
    );
    // Full from the start (the cache opened in memory): none kept, and not said to be.
    expect(interruptedAfter(join(root, 'm'), [cacheFull, extract(0, 40)])).toBe(
      `Training was interrupted: nothing was written to ${join(root, 'm')}; the feature cache's disk is full: none of the features computed were kept`,
    );
  });
});
