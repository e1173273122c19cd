import { execFileSync } from 'node:child_process';
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ProgressEvent } from '../../src/core/progress.js';
import { evaluateModel } from '../../src/model/evaluate-model.js';
import { GraftModel } from '../../src/model/graft-model.js';
import { train } from '../../src/recipes/train.js';
import { copySubset, hasShared, hymenoptera, int8Model, tempDir } from '../support.js';

// A model used on folders with files it cannot read: what a library user sees of them.
describe.skipIf(!hasShared)('a model given files it cannot read', () => {
  let root: string;
  let model: GraftModel;
  beforeAll(async () => {
    root = await tempDir('graft-unreadable-inputs-');
    const data = await copySubset(join(hymenoptera, 'train'), join(root, 'train'), 4);
    await train({ train: data, backbone: int8Model, out: join(root, 'model'), cacheDir: join(root, 'cache'), valSplit: 0 });
    model = await GraftModel.load(join(root, 'model'));
    return () => model.dispose();
  }, 180_000);

  it("gives each mistake the index of its image among the inputs, as perImage's images are", async () => {
    // Labels swapped (ants filed as bees and bees as ants), so that most images are mistakes.
    const copied = await copySubset(join(hymenoptera, 'val'), join(root, 'copied'), 6);
    const dir = join(root, 'swapped');
    await cp(join(copied, 'ants'), join(dir, 'bees'), { recursive: true });
    await cp(join(copied, 'bees'), join(dir, 'ants'), { recursive: true });
    // Unreadable files sort first in each class, so every readable image's place among the inputs moves.
    for (const label of ['ants', 'bees']) await writeFile(join(dir, label, '0000-empty.jpg'), '');
    const report = await evaluateModel(model, dir, { perImage: true });
    expect(report.skipped).toHaveLength(2);
    expect(report.misclassified.length).toBeGreaterThanOrEqual(6);
    for (const mistake of report.misclassified) expect(report.images![mistake.index]!.file).toBe(mistake.file);
  });

  it('ends its progress at the total when the last file cannot be read, and skips a named pipe instead of waiting on it', async () => {
    const images = [join(hymenoptera, 'val/ants/10308379_1b6c72e180.jpg'), join(hymenoptera, 'val/bees/10870992_eebeeb3a12.jpg')];
    const fifo = join(root, 'pipe.jpg');
    execFileSync('mkfifo', [fifo]);
    const empty = join(root, 'last-empty.jpg');
    await writeFile(empty, '');
    const events: ProgressEvent[] = [];
    const { skipped } = await model.probabilities([...images, fifo, empty], { batchSize: 2, onProgress: (e) => events.push(e), signal: AbortSignal.timeout(20_000) });
    expect(skipped.map((s) => s.reason)).toEqual(['not a regular file (a named pipe, socket or device)', 'zero-byte file']);
    const extract = events.filter((e): e is Extract<ProgressEvent, { type: 'extract' }> => e.type === 'extract');
    expect(extract.at(-1)).toMatchObject({ done: 4, total: 4 });
  });
});
