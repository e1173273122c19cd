import { cp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReport } from '../../src/report/build-report.js';
import { train } from '../../src/recipes/train.js';
import { copySubset, hasShared, hymenoptera, int8Model, skipReason, tempDir } from '../support.js';

skipReason('report on a --val-split model written by an earlier Graft');
describe.skipIf(!hasShared)('graft report on a --val-split model whose graft.json records only how many images were held out', () => {
  let root: string;
  let model: string;
  let recordedAccuracy: number;
  beforeAll(async () => {
    root = await tempDir('graft-report-old-');
    // Copies of an image under another name: the split since 4bb73e7 keeps them on one side, the split of 718c755 and
    // earlier did not. Drawn again today, the same 14 held-out images were 13 the older build had trained on.
    const data = await copySubset(join(hymenoptera, 'train'), join(root, 'photos'), 20);
    for (const label of ['ants', 'bees']) {
      for (const file of (await readdir(join(data, label))).sort().slice(0, 6)) await cp(join(data, label, file), join(data, label, `copy-${file}`));
    }
    model = join(root, 'model');
    const result = await train({ train: data, valSplit: 0.25, backbone: int8Model, out: model, cacheDir: join(root, 'cache'), offline: true });
    recordedAccuracy = result.val!.accuracy;
  }, 300_000);
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('scores the held-out images again when graft.json records which they were', async () => {
    const report = await buildReport(model);
    expect(report.notScored).toBeUndefined();
    expect(report.dataset).toMatch(/the 14 images --val-split 0\.25 held out, seed 42/);
    expect(report.accuracy).toBeCloseTo(recordedAccuracy, 6);
  });

  it('does not score them from a graft.json written before their digest was recorded (718c755 and earlier): said, naming what to do', async () => {
    const old = join(root, 'old-model');
    await cp(model, old, { recursive: true });
    // graft.json as Graft wrote it up to 718c755 (2026-12-05): the outcome's data without heldOutDigest.
    const manifest = JSON.parse(await readFile(join(old, 'graft.json'), 'utf8')) as { training: { outcome: { data: Record<string, unknown> } } };
    delete manifest.training.outcome.data.heldOutDigest;
    await writeFile(join(old, 'graft.json'), JSON.stringify(manifest, null, 2));
    const report = await buildReport(old);
    expect(report).toMatchObject({ dataset: null, accuracy: null, misclassified: 0 });
    expect(report.notScored).toMatch(/held out \(14\), not which: it was written by an earlier Graft/);
    expect(report.notScored).toContain('pass --data <labelled folder>');
    expect(report.html).toContain('written by an earlier Graft');
  });
});
