import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { defaultCacheDir } from '../core/cache-dir.js';
import { GraftError } from '../core/errors.js';
import { detectFormat } from '../formats/detect-format.js';
import { CATALOGUE, CATALOGUE_NAMES, isCatalogueName, type CatalogueEntry } from '../hub/catalogue.js';
import type { MirrorRule } from '../hub/mirror.js';
import { resolveBackbone, type ResolvedBackbone } from '../hub/resolve-backbone.js';
import { loadKerasH5 } from '../readers/keras-h5/load-keras-h5.js';
import { registerLayersTfjsLacks } from '../readers/subtract-layer.js';
import { loadNsfwjsMobileNetV2 } from '../readers/tfjs-layers.js';

/** Where a catalogue architecture is found: the cache, the model folders, the mirrors, and whether to download. */
export interface ArchitectureOptions {
  readonly cacheDir?: string;
  readonly modelDirs?: readonly string[];
  readonly mirrors?: readonly MirrorRule[];
  readonly offline?: boolean;
}

/** The catalogue's TF.js layers models: the architectures a weights-only .h5 can be loaded into by name. */
export function layersCatalogueNames(): string[] {
  return CATALOGUE_NAMES.filter((name) => (CATALOGUE[name] as CatalogueEntry).format === 'tfjs-layers');
}

/**
 * The architecture a weights-only .h5 is loaded into: a TF.js layers model.json (or folder; only its topology is
 * read, so weight shards may be absent), a full Keras .h5, or a catalogue TF.js layers backbone.
 * @throws GraftError `INVALID_CONFIG` for a catalogue model or file that is not a layers architecture.
 */
export async function loadArchitecture(spec: string, options: ArchitectureOptions = {}): Promise<tf.LayersModel> {
  if (isCatalogueName(spec)) {
    const entry: CatalogueEntry = CATALOGUE[spec];
    if (entry.format !== 'tfjs-layers') {
      throw new GraftError('INVALID_CONFIG', `Catalogue model ${spec} is a ${entry.format} model, not a TF.js layers model, so it cannot be an architecture for Keras weights`, {
        hint: `use one of: ${layersCatalogueNames().join(', ')}; or a model.json or full .h5`,
      });
    }
    let resolved: ResolvedBackbone;
    try {
      resolved = await resolveBackbone(spec, {
        cacheDir: options.cacheDir ?? defaultCacheDir(),
        modelDirs: options.modelDirs ?? [],
        ...(options.mirrors === undefined ? {} : { mirrors: options.mirrors }),
        offline: options.offline ?? false,
      });
    } catch (error) {
      // The resolver's hints speak of --backbone; here the flag is --architecture.
      if (error instanceof GraftError && error.hint) throw new GraftError(error.code, error.message, { cause: error, hint: error.hint.replaceAll('--backbone', '--architecture') });
      throw error;
    }
    if (resolved.location.kind === 'bundled') return (await loadNsfwjsMobileNetV2()).model;
    if (resolved.location.kind !== 'tfjs-layers') throw new GraftError('INTERNAL', `Catalogue model ${spec} resolved to a ${resolved.location.kind} model`);
    return architectureFromModelJson(join(resolved.location.dir, 'model.json'));
  }
  const detected = await detectFormat(resolve(spec));
  if (detected.format === 'tfjs-layers') return architectureFromModelJson(detected.path);
  if (detected.format === 'keras-h5') return (await loadKerasH5(detected.path)).model;
  throw new GraftError('INVALID_CONFIG', `--architecture ${spec} is a ${detected.format} model; it must be a TF.js layers model.json, a full Keras .h5 or a catalogue name`, {
    hint: `catalogue TF.js layers models: ${layersCatalogueNames().join(', ')}`,
  });
}

async function architectureFromModelJson(path: string): Promise<tf.LayersModel> {
  let topology: unknown;
  try {
    topology = (JSON.parse(await readFile(path, 'utf8')) as { modelTopology?: unknown }).modelTopology;
  } catch (cause) {
    throw new GraftError('INVALID_MODEL_DIR', `${path} is not a readable TF.js model.json`, { cause, hint: 'the file is damaged or truncated' });
  }
  if (typeof topology !== 'object' || topology === null) {
    throw new GraftError('INVALID_MODEL_DIR', `${path} has no "modelTopology" object, so it is not a TF.js layers model`);
  }
  registerLayersTfjsLacks();
  try {
    return await tf.models.modelFromJSON({ modelTopology: topology } as tf.io.ModelJSON as {});
  } catch (cause) {
    throw new GraftError('UNSUPPORTED_MODEL', `tfjs could not build the architecture in ${path}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}
