import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Scale } from '../core/preprocessing.js';
import type { BackboneLocation } from './model-location.js';

/**
 * The pixel scaling a Teachable Machine image model declares by being one. Its TF.js export holds a `metadata.json`
 * whose `packageName` is `@teachablemachine/image`; its Keras export is `keras_model.h5` beside `labels.txt`. Both are
 * fed images scaled to [-1, 1] (`x / 127.5 - 1`, as Teachable Machine's own code and its Keras sample do), so Graft
 * needs no `--scale` for them. Undefined for any other model: a scale is never guessed.
 */
export function teachableMachineScale(location: BackboneLocation): Scale | undefined {
  if (location.kind === 'tfjs-layers') return isTeachableMachineMetadata(join(location.dir, 'metadata.json')) ? '-1..1' : undefined;
  if (location.kind === 'keras-h5') {
    const isExportName = /^keras_model\.h5$/i.test(basename(location.path));
    return isExportName && existsSync(join(dirname(location.path), 'labels.txt')) ? '-1..1' : undefined;
  }
  return undefined;
}

function isTeachableMachineMetadata(file: string): boolean {
  try {
    const metadata = JSON.parse(readFileSync(file, 'utf8')) as { packageName?: unknown };
    return metadata.packageName === '@teachablemachine/image';
  } catch {
    return false;
  }
}
