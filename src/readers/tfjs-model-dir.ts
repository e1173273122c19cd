import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GraftError } from '../core/errors.js';

/**
 * Model id of a TF.js model folder (graph or layers): sha256 of model.json's bytes followed by every weight file in
 * `weightsManifest` order, the same definition as `layersModelDirSha256`, without parsing the topology.
 * @throws GraftError INVALID_MODEL_DIR when model.json is unreadable or a listed weight file is missing.
 */
export async function tfjsModelDirSha256(dir: string): Promise<string> {
  const modelJson = join(dir, 'model.json');
  const bytes = await readFile(modelJson);
  const hash = createHash('sha256').update(bytes);
  for (const path of weightPaths(bytes, modelJson)) {
    try {
      for await (const chunk of createReadStream(join(dir, path))) hash.update(chunk as Buffer);
    } catch (cause) {
      throw new GraftError('INVALID_MODEL_DIR', `${modelJson} lists the weight file ${path}, which cannot be read`, { cause, hint: 'download the model again' });
    }
  }
  return hash.digest('hex');
}

/** The weight file paths a TF.js model.json lists, in order. */
export function weightPaths(modelJson: Uint8Array | string, where: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof modelJson === 'string' ? modelJson : Buffer.from(modelJson).toString('utf8'));
  } catch (cause) {
    throw new GraftError('INVALID_MODEL_DIR', `${where} is not valid JSON`, { cause, hint: 'the download was damaged or it is not a TF.js model.json' });
  }
  // Any JSON parses (null, a string, a list of anything): only objects are read, the rest lists no file.
  const manifest = parsed !== null && typeof parsed === 'object' ? (parsed as { weightsManifest?: unknown }).weightsManifest : undefined;
  if (!Array.isArray(manifest)) return [];
  return manifest.flatMap((group: unknown) => {
    const paths = group !== null && typeof group === 'object' ? (group as { paths?: unknown }).paths : undefined;
    return Array.isArray(paths) ? paths.filter((p): p is string => typeof p === 'string') : [];
  });
}
