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
