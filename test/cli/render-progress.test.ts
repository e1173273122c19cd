import { Writable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { renderProgress } from '../../src/cli/render-progress.js';

function capture(isTTY: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk, _enc, done) {
      text += String(chunk);
      done();
    },
  }) as unknown as NodeJS.WriteStream;
  Object.assign(stream, { isTTY, columns: 100, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
  return { stream, text: () => text };
}

describe('renderProgress', () => {
  const epoch = { type: 'epoch-end', epoch: 1, epochs: 3, logs: { loss: 0.5, acc: 0.8, val_loss: 0.4, val_acc: 0.9 }, seconds: 0.1 } as const;

  it('prints one line per epoch when piped, and no bar', () => {
    const out = capture(false);
    const render = renderProgress({ stream: out.stream, isTTY: false });
    render({ type: 'extract-start', total: 10 });
    render({ type: 'extract', done: 10, total: 10, cached: 2, computed: 8, imgPerSec: 100 });
    render({ type: 'batch-end', epoch: 1, batch: 1, batches: 2 });
    render(epoch);
    render({ ...epoch, epoch: 2 });
    render.stop();
    const lines = out.text().trim().split('\n');
    expect(lines.filter((l) => l.startsWith('epoch '))).toEqual([
      'epoch 1/3 loss 0.5000 acc 0.8000 val_loss 0.4000 val_acc 0.9000 (0.10 s)',
      'epoch 2/3 loss 0.5000 acc 0.8000 val_loss 0.4000 val_acc 0.9000 (0.10 s)',
    ]);
    expect(out.text()).toContain('8 computed (100 img/s), 2 cached');
    expect(out.text()).not.toContain('ETA');
  });

  it('prints a skipped file whose name holds a newline or an escape sequence as one line, the characters escaped', () => {
    const out = capture(false);
    const render = renderProgress({ stream: out.stream, isTTY: false });
    render({ type: 'skip', file: '/d/ants/evil\n    bees   99.jpg', reason: 'not an image' });
    render({ type: 'skip', file: '/d/ants/\u001b[2Jclear.jpg', reason: 'not an image' });
    render.stop();
    expect(out.text().trim().split('\n')).toEqual(['skipped /d/ants/evil\\n    bees   99.jpg: not an image', 'skipped /d/ants/\\x1b[2Jclear.jpg: not an image']);
  });

  it('says a path a manifest lists many times once, with its count, and points nowhere it is not listed', () => {
    const out = capture(false);
    const render = renderProgress({ stream: out.stream, isTTY: false });
    const repeated = Array.from({ length: 1000 }, () => ({ file: '/d/a.jpg', part: 'train' as const, label: 'ants' }));
    const group = (sha: string, files: typeof repeated) => ({ sha256: sha, files, isAcrossSplits: false, hasConflictingLabels: false });
    render({ type: 'duplicates', groups: [group('1', [...repeated, { file: '/d/b.jpg', part: 'train' as const, label: 'ants' }]), ...Array.from({ length: 11 }, (_, i) => group(`x${i}`, repeated.slice(0, 2)))] });
    const text = out.text();
    expect(text).toContain('  same image: /d/a.jpg (train, ants) listed 1000 times, /d/b.jpg (train, ants)\n');
    expect(text.length).toBeLessThan(3000); // the path was written 1000 times on one line
    expect(text).toContain('  ... and 2 more\n');
    expect(text).not.toContain('graft inspect lists them all');
  });

  it('prints the end of an extraction once when piped, though extraction reports it more than once', () => {
    const out = capture(false);
    const render = renderProgress({ stream: out.stream, isTTY: false });
    for (const total of [10, 4]) {
      render({ type: 'extract-start', total });
      render({ type: 'extract', done: 3, total, cached: 3, computed: 0, imgPerSec: 0 });
      render({ type: 'extract', done: total, total, cached: 3, computed: total - 3, imgPerSec: 38 });
      render({ type: 'extract', done: total, total, cached: 3, computed: total - 3, imgPerSec: 37 });
    }
    render.stop();
    // A line at most every 5 s (the first report, then nothing until the end), and one line for each end.
    expect(out.text().trim().split('\n').filter((l) => l.trim().startsWith('features ')).map((l) => l.trim())).toEqual([
      'features 3/10: 0 computed (0 img/s), 3 cached',
      'features 10/10: 7 computed (38 img/s), 3 cached',
      'features 4/4: 1 computed (38 img/s), 3 cached',
    ]);
  });

  it('draws a bar with rate and ETA on a terminal', () => {
    const out = capture(true);
    const render = renderProgress({ stream: out.stream, isTTY: true });
    render({ type: 'extract-start', total: 100 });
    render({ type: 'extract', done: 0, total: 100, cached: 0, computed: 0, imgPerSec: 0 });
    // No rate yet, so no ETA: shown as "--", not cli-progress's own "NFs".
    expect(out.text()).toContain('ETA --');
    // 40 images in 4 s: 60 left at 10 a second is an ETA of 6 s (the bar's clock is the test's).
    vi.useFakeTimers({ now: Date.now() });
    try {
      vi.advanceTimersByTime(4000);
      render({ type: 'extract', done: 40, total: 100, cached: 0, computed: 40, imgPerSec: 250 });
      render.stop();
    } finally {
      vi.useRealTimers();
    }
    expect(out.text()).not.toContain('NF');
    expect(out.text()).toMatch(/40\/100 img/);
    expect(out.text()).toContain('250 img/s');
    expect(out.text()).toMatch(/ETA \d+s/);
  });

  it('draws the bar without an extract-start (a model scoring images), and again after a skipped file ended it', () => {
    const out = capture(true);
    const render = renderProgress({ stream: out.stream, isTTY: true });
    render({ type: 'extract', done: 16, total: 100, cached: 0, computed: 16, imgPerSec: 20 });
    expect(out.text()).toMatch(/16\/100 img/);
    render({ type: 'skip', file: 'broken.jpg', reason: 'not an image' });
    expect(out.text()).toContain('skipped broken.jpg: not an image');
    const before = out.text().length;
    render({ type: 'extract', done: 33, total: 100, cached: 0, computed: 32, imgPerSec: 21 });
    render.stop();
    expect(out.text().slice(before)).toMatch(/33\/100 img/);
  });

  it("shows a dataset check's progress: a bar on a terminal, a line at the end (and every 5 s) when piped", () => {
    const tty = capture(true);
    const bar = renderProgress({ stream: tty.stream, isTTY: true });
    bar({ type: 'check', done: 10, total: 40, filesPerSec: 300 });
    bar.stop();
    expect(tty.text()).toMatch(/10\/40 files checked \| 300 files\/s/);
    const piped = capture(false);
    const lines = renderProgress({ stream: piped.stream, isTTY: false });
    for (let done = 1; done <= 40; done++) lines({ type: 'check', done, total: 40, filesPerSec: 300 });
    // The first call prints (no line yet), then nothing within 5 s but the end.
    expect(piped.text().trimEnd().split('\n')).toEqual(['  checked 1/40 files (300 files/s)', '  checked 40/40 files (300 files/s)']);
  });
});

