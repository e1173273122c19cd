import type { Preprocessing } from '../core/preprocessing.js';
import { cvEstimate, type ModelManifest } from '../model/manifest.js';

/**
 * `model.json` of a web export: what the browser needs to preprocess and run `model.onnx`, taken from the
 * manifest (the model carries its preprocessing; the page has no constants).
 */
export interface WebModelInfo {
  readonly format: 'graft-web-model';
  readonly version: 1;
  readonly name: string;
  readonly labels: readonly string[];
  readonly preprocessing: Preprocessing;
  /** ONNX input and probability output names. */
  readonly onnx: { readonly file: 'model.onnx'; readonly input: string; readonly probabilities: string };
  /** Test-time augmentation the model was trained to use: inside model.onnx, and inside the TF.js model of a tfjs export. */
  readonly testTimeAugmentation?: 'mirror';
  /** `val`: the validation images' scores, if any were given; `cv`: the cross-validated accuracy on the training images. */
  readonly metrics: { readonly val: ModelManifest['metrics']['val']; readonly cv?: { readonly accuracy: number; readonly folds: number } };
  readonly backbone: string;
  readonly created: string;
}

export function webModelInfo(manifest: ModelManifest, name: string): WebModelInfo {
  return {
    format: 'graft-web-model',
    version: 1,
    name,
    labels: manifest.labels,
    preprocessing: manifest.preprocessing,
    onnx: { file: 'model.onnx', input: manifest.onnx.input, probabilities: manifest.onnx.probabilities },
    // Inside model.onnx and the TF.js model already: for the reader's information.
    ...(manifest.onnx.tta ? { testTimeAugmentation: manifest.onnx.tta } : {}),
    metrics: { val: manifest.metrics.val, ...cvOf(manifest) },
    backbone: manifest.backbone.name,
    created: manifest.created,
  };
}

function cvOf(manifest: ModelManifest): { cv: { accuracy: number; folds: number } } | Record<string, never> {
  const cv = cvEstimate(manifest);
  return cv ? { cv: { accuracy: cv.accuracy, folds: cv.folds } } : {};
}
