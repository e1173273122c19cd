import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { writeFileAtomic } from '../../core/atomic-write.js';
import { exportTeachableMachine, TEACHABLE_MACHINE_METADATA_FILE } from '../../model/export-teachable-machine.js';
import type { RunRecord } from './dashboard-store.js';
import { runFolder } from './run-files.js';

/** The zip's name in a run's folder, kept there once made (a finished run's model never changes). */
export const TEACHABLE_MACHINE_ZIP = 'teachable-machine.zip';

/**
 * A finished run's model as Teachable Machine's "Download my model" gives one: a zip of model.json, weights.bin and
 * metadata.json (`graft export --to teachable-machine`). Made on the first request (a few seconds: the model is
 * converted and checked), then read from the run's folder; requests for a run whose zip is being made share the work.
 */
export class TeachableMachineZips {
  private readonly making = new Map<number, Promise<string>>();

  /** The zip's path in the run's folder; its bytes for a record whose model lies elsewhere (made anew each time). */
  async zipOf(run: RunRecord, dataDir: string): Promise<string | Uint8Array> {
    const folder = runFolder(run, dataDir);
    if (!folder) return zipBytes(run.modelDir);
    const path = join(folder, TEACHABLE_MACHINE_ZIP);
    if (existsSync(path)) return path;
    let making = this.making.get(run.id);
    if (!making) {
      making = (async () => {
        await writeFileAtomic(path, await zipBytes(run.modelDir));
        return path;
      })().finally(() => this.making.delete(run.id));
      this.making.set(run.id, making);
    }
    return making;
  }
}

async function zipBytes(modelDir: string): Promise<Uint8Array> {
  const work = await mkdtemp(join(tmpdir(), 'graft-tm-export-'));
  try {
    const out = join(work, 'model');
    await exportTeachableMachine(modelDir, { out });
    const files = ['model.json', 'weights.bin', TEACHABLE_MACHINE_METADATA_FILE];
    const entries = Object.fromEntries(await Promise.all(files.map(async (name) => [name, new Uint8Array(await readFile(join(out, name)))] as const)));
    // Weights are float32 and barely compress: stored, so a 10 MB zip is made in milliseconds.
    return zipSync(entries, { level: 0 });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
