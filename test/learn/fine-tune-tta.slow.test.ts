import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/core/random.js';
import { evaluateModel } from '../../src/model/evaluate-model.js';
import { GraftModel } from '../../src/model/graft-model.js';
import { train } from '../../src/recipes/train.js';
import { hasShared, int8Model, skipReason, tempDir } from '../support.js';

/** Arrows pointing left or right: each class is the other's mirror image. Real JPEGs, drawn with a seed. */
async function writeArrows(root: string, perClass: { train: number; val: number }): Promise<void> {
  const random = mulberry32(7);
  for (const [part, count] of Object.entries(perClass)) {
    for (const label of ['left', 'right']) {
      const dir = join(root, part, label);
      await mkdir(dir, { recursive: true });
      for (let i = 0; i < count; i++) {
        const [cx, cy, length, width] = [80 + random() * 64, 80 + random() * 64, 40 + random() * 30, 8 + random() * 8];
        const d = label === 'right' ? 1 : -1;
        const points = [[-length, -width], [length * 0.3, -width], [length * 0.3, -2.5 * width], [length, 0], [length * 0.3, 2.5 * width], [length * 0.3, width], [-length, width]]
          .map(([x, y]) => `${cx + d * x!},${cy + y!}`)
          .join(' ');
        const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="224" height="224"><rect width="224" height="224" fill="hsl(${Math.floor(random() * 360)},40%,80%)"/><polygon points="${points}" fill="hsl(${Math.floor(random() * 360)},70%,35%)"/></svg>`;
        await sharp(Buffer.from(svg)).jpeg().toFile(join(dir, `${label}_${i}.jpg`));
      }
    }
  }
}

skipReason('fine-tuning with test-time augmentation');
describe.skipIf(!hasShared)('a kept fine-tuned network and test-time augmentation', () => {
  let root: string;
  beforeAll(async () => {
    root = await tempDir();
    await writeArrows(join(root, 'arrows'), { train: 40, val: 12 });
  });

  it('is written as it was judged and scored (without the mirror average chosen for the frozen head), resumed or not', async () => {
    const out = join(root, 'model');
    // Mirror TTA forced on: averaged with its mirror image, an arrow is as much left as right.
    const options = {
      train: join(root, 'arrows/train'),
      val: join(root, 'arrows/val'),
      backbone: int8Model,
      out,
      cacheDir: join(root, 'cache'),
      config: { tta: 'on' as const },
      fineTune: { views: 0, learningRate: 0.003, epochs: 10 },
    };
    // Stopped after its third fine-tuning epoch, then resumed from the checkpoint.
    const stop = new AbortController();
    const stopped = await train({ ...options, signal: stop.signal, onProgress: (e) => e.type === 'epoch-end' && e.phase === 'fine-tune' && e.epoch === 3 && stop.abort() }).catch((error: unknown) => error);
    expect(stopped).toMatchObject({ code: 'CANCELLED' });
    const result = await train({ ...options, resume: true });
    // Fine-tuning learns the direction that frozen ImageNet features barely hold, and is kept; the summary says the
    // run went on from the checkpoint (before: the refit's own count, 0, when fine-tuning was kept).
    expect(result.fineTune?.kept).toBe('fine-tuned');
    expect(result.fineTune?.resumedAfter).toBeGreaterThanOrEqual(1);
    expect(result.head.tta).toBe(false);
    const manifest = JSON.parse(await readFile(join(out, 'graft.json'), 'utf8')) as { onnx: { tta?: string } };
    expect(manifest.onnx.tta).toBeUndefined();
    // The written model scores the validation images as training reported (before: 1.0 reported, ties written).
    const model = await GraftModel.load(out);
    try {
      const scored = await evaluateModel(model, join(root, 'arrows/val'));
      expect(scored.accuracy).toBe(result.val!.accuracy);
      expect(scored.accuracy).toBeGreaterThan(0.9);
    } finally {
      await model.dispose();
    }
  });
});
