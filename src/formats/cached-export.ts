import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../core/atomic-write.js';
import { makeDirectory } from '../core/make-directory.js';
import type { ProgressListener } from '../core/progress.js';

/** A description as stored beside its export: with the export's sha256, recorded when both were written. */
type Stored<D> = D & { readonly exportSha256?: string };

/**
 * A cached ONNX export of a backbone (a TF.js or Keras model's) and its description, checked: the description parses
 * and the export's bytes hash to what was recorded when they were written. Anything else is a miss, so the caller
 * builds them again: a damaged export ran without a word, and its features went into the feature cache under the
 * source model's hash, where they outlived the export. A damaged pair is removed, with a `CACHED_MODEL_DAMAGED`
 * warning; a description of an earlier Graft (no hash recorded) is a plain miss.
 */
export async function readCachedExport<D extends object>(exportPath: string, descPath: string, source: string, onProgress: ProgressListener | undefined): Promise<{ description: D; bytes: Uint8Array } | undefined> {
  if (!existsSync(exportPath) || !existsSync(descPath)) return undefined;
  let stored: Stored<D> | undefined;
  try {
    stored = JSON.parse(await readFile(descPath, 'utf8')) as Stored<D>;
  } catch {
    stored = undefined;
  }
  if (stored?.exportSha256 === undefined && stored !== undefined) return undefined;
  const bytes = new Uint8Array(await readFile(exportPath));
  if (stored !== undefined && sha256(bytes) === stored.exportSha256) {
    const { exportSha256: _, ...description } = stored;
    return { description: description as D, bytes };
  }
  onProgress?.({ type: 'warning', code: 'CACHED_MODEL_DAMAGED', message: `The cached ONNX export of ${source} (${exportPath}) was damaged: it is made again` });
  await Promise.all([rm(exportPath, { force: true }), rm(descPath, { force: true })]);
  return undefined;
}

/** Writes an export and its description (with the export's sha256) into the cache, the export first. */
export async function writeCachedExport(exportPath: string, descPath: string, bytes: Uint8Array, description: object): Promise<void> {
  await makeDirectory(dirname(exportPath));
  await writeFileAtomic(exportPath, bytes);
  await writeFileAtomic(descPath, JSON.stringify({ ...description, exportSha256: sha256(bytes) }));
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
