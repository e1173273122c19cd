import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MANIFEST_FILE } from '../model/manifest.js';
import { ModelVersion, type ModelVersionOptions } from './model-version.js';

/**
 * How long a reload waits for a model folder to stand still. Replacing a folder (`graft train --out`, replaceDirectory)
 * is two renames with a moment between them when there is none; a copy over it takes longer, and the watcher reloads
 * again once it settles.
 */
const SETTLE_WAIT_MS = 2_000;
const SETTLE_POLL_MS = 25;

/**
 * Loads the model folder `dir` as one whole model: a folder missing or without its graft.json is waited for, and a
 * load during which the folder was replaced (graft.json read from one model, model.onnx from the next) or vanished is
 * done again, until {@link SETTLE_WAIT_MS} has passed; then the last load's result stands.
 * @param isCancelled stops the wait (the server is closing): the error of a load then made stands.
 * @throws the load's GraftError (INVALID_MODEL_DIR for a folder still missing or damaged).
 */
export async function loadSettledVersion(dir: string, options: ModelVersionOptions, isCancelled: () => boolean): Promise<ModelVersion> {
  const deadline = Date.now() + SETTLE_WAIT_MS;
  for (;;) {
    const before = await folderState(dir);
    const isLast = Date.now() >= deadline || isCancelled();
    if (before !== undefined || isLast) {
      const loaded = await ModelVersion.load(dir, options).then(
        (version) => ({ version }),
        (error: unknown) => ({ error }),
      );
      if (isLast || before === (await folderState(dir))) {
        if ('version' in loaded) return loaded.version;
        throw loaded.error;
      }
      if ('version' in loaded) await loaded.version.dispose();
    }
    await sleep(SETTLE_POLL_MS);
  }
}

/**
 * The folder and its graft.json as they stand, or undefined while either is missing. A folder renamed aside and back
 * is the same inode: its ctime (which a rename sets) tells it moved.
 */
async function folderState(dir: string): Promise<string | undefined> {
  try {
    const [folder, manifest] = await Promise.all([stat(dir), stat(join(dir, MANIFEST_FILE))]);
    return `${folder.dev}:${folder.ino}:${folder.ctimeMs} ${manifest.ino}:${manifest.size}:${manifest.mtimeMs}:${manifest.ctimeMs}`;
  } catch {
    return undefined;
  }
}
