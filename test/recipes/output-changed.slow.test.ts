import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ProgressEvent } from '../../src/core/progress.js';
import { writeSyntheticDataset } from '../../src/data/synthetic.js';
import { train } from '../../src/recipes/train.js';
import { tempDir } from '../support.js';

describe('two runs writing one --out', () => {
  it('the run that replaces a model another run wrote while it trained says so; a run alone says nothing', async () => {
    const root = await tempDir('graft-output-changed-');
    const data = await writeSyntheticDataset(join(root, 'shapes'), { perClass: 6 });
    const out = join(root, 'model');
    const run = async (onBackbone?: () => void): Promise<ProgressEvent[]> => {
      const events: ProgressEvent[] = [];
      await train({ train: data.trainDir, backbone: 'nsfwjs_mobilenet_v2', out, cacheDir: join(tmpdir(), 'graft-web-tests-cache'), offline: true, valSplit: 0, onProgress: (e) => {
        events.push(e);
        if (e.type === 'backbone') onBackbone?.();
      } });
      return events;
    };
    const changed = (events: ProgressEvent[]) => events.filter((e) => e.type === 'warning' && e.code === 'OUTPUT_CHANGED');
    expect(changed(await run())).toEqual([]);
    // Retrained over its own earlier model, nothing else writing: no warning either.
    expect(changed(await run())).toEqual([]);
    // Another run's model put in place while this one trains (what its writeDirectoryStaged's rename does).
    const other = join(root, 'other');
    const events = await run(() => {
      mkdirSync(other);
      writeFileSync(join(other, 'graft.json'), '{}');
      renameSync(out, join(root, 'aside'));
      renameSync(other, out);
    });
    expect(changed(events)).toEqual([{ type: 'warning', code: 'OUTPUT_CHANGED', message: `${out} was written by another run while this one trained; this run's model replaces it` }]);
  }, 120_000);
});
