import { describe, expect, it } from 'vitest';
import { ConcurrencyLimiter } from '../../src/serve/concurrency-limiter.js';

/** A task that runs until its `finish` is called. */
function gate(): { task: () => Promise<string>; finish: () => void; started: () => boolean } {
  let finish = (): void => undefined;
  let isStarted = false;
  const done = new Promise<void>((resolve) => (finish = resolve));
  return { task: async () => ((isStarted = true), await done, 'done'), finish: () => finish(), started: () => isStarted };
}

describe('ConcurrencyLimiter', () => {
  it('runs at most `limit` at once, in arrival order, and refuses past `maxWaiting` with 503 BUSY', async () => {
    const limiter = new ConcurrencyLimiter(1, 2);
    const [a, b, c] = [gate(), gate(), gate()];
    const runs = [limiter.run(a.task), limiter.run(b.task), limiter.run(c.task)];
    await Promise.resolve();
    expect([a.started(), b.started(), c.started(), limiter.queued]).toEqual([true, false, false, 2]);
    await expect(limiter.run(async () => 'd')).rejects.toMatchObject({ code: 'BUSY' });
    a.finish();
    await runs[0];
    await new Promise((resolve) => setImmediate(resolve));
    expect([b.started(), c.started()]).toEqual([true, false]);
    b.finish();
    c.finish();
    expect(await Promise.all(runs)).toEqual(['done', 'done', 'done']);
    expect(limiter.queued).toBe(0);
  });

  it('drops a waiting task whose signal aborts (its request is over) without running it', async () => {
    const limiter = new ConcurrencyLimiter(1);
    const first = gate();
    const running = limiter.run(first.task);
    const abandoned = new AbortController();
    let ran = false;
    const waiting = limiter.run(async () => (ran = true), abandoned.signal);
    const next = gate();
    const after = limiter.run(next.task);
    abandoned.abort(new Error('client gone'));
    await expect(waiting).rejects.toThrow('client gone');
    expect(limiter.queued).toBe(1);
    first.finish();
    await running;
    next.finish();
    expect(await after).toBe('done');
    expect(ran).toBe(false);
    await expect(limiter.run(async () => 1, abandoned.signal)).rejects.toThrow('client gone');
  });
});
