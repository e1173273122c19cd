import { GraftError } from '../core/errors.js';

/**
 * Where a model's files are, once found: one file (ONNX, Keras .h5), a TF.js folder (model.json plus weight
 * shards), or a model bundled in an npm dependency. The kind is the format's name, except for bundled models.
 */
export type BackboneLocation =
  | { readonly kind: 'onnx'; readonly path: string }
  | { readonly kind: 'tfjs-layers'; readonly dir: string }
  | { readonly kind: 'tfjs-graph'; readonly dir: string }
  | { readonly kind: 'keras-h5'; readonly path: string }
  | { readonly kind: 'bundled'; readonly bundle: 'nsfwjs' };

/** The folder of a TF.js graph model's location (an internal error for any other kind). */
export function graphDir(location: BackboneLocation, source = 'the model'): string {
  if (location.kind !== 'tfjs-graph') throw new GraftError('INTERNAL', `graph backbone without a folder: ${source}`);
  return location.dir;
}
