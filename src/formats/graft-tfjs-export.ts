import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SCALES, type ResizeMode, type Scale } from '../core/preprocessing.js';
import type { BackboneLocation } from './model-location.js';

/** What `graft export --to tfjs` writes beside model.json (model/'s TFJS_METADATA_FILE, a floor above this one). */
const GRAFT_TFJS_METADATA_FILE = 'graft-model.json';
const RESIZE_MODES: readonly ResizeMode[] = ['center-crop', 'stretch'];

/** The preprocessing a folder declares for its model. */
export interface DeclaredPreprocessing {
  readonly scale: Scale;
  readonly resize?: ResizeMode;
  readonly cropFraction?: number;
}

/**
 * The preprocessing Graft's own TF.js export declares in its `graft-model.json` (`"format": "graft-tfjs-model"`): the
 * scale, resize and crop its model directory was trained with, so that it needs no `--scale` as a backbone. Undefined
 * for any other folder, and for a file that does not say a known scale: a scale is never guessed.
 */
export function graftTfjsExportPreprocessing(location: BackboneLocation): DeclaredPreprocessing | undefined {
  if (location.kind !== 'tfjs-layers') return undefined;
  let metadata: { format?: unknown; preprocessing?: { scale?: unknown; resize?: unknown; cropFraction?: unknown } };
  try {
    metadata = JSON.parse(readFileSync(join(location.dir, GRAFT_TFJS_METADATA_FILE), 'utf8')) as typeof metadata;
  } catch {
    return undefined;
  }
  const pre = metadata.preprocessing;
  if (metadata.format !== 'graft-tfjs-model' || !SCALES.includes(pre?.scale as Scale)) return undefined;
  return {
    scale: pre!.scale as Scale,
    ...(RESIZE_MODES.includes(pre!.resize as ResizeMode) ? { resize: pre!.resize as ResizeMode } : {}),
    ...(typeof pre!.cropFraction === 'number' ? { cropFraction: pre!.cropFraction } : {}),
  };
}
