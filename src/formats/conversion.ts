import type * as tf from '@tensorflow/tfjs';
import type { ProgressListener } from '../core/progress.js';
import type { ConversionReport, ConvertTarget } from './conversion-report.js';

/** @internal One conversion as a format entry runs it: the detected file and everything already decided about it. */
export interface ConversionRequest {
  /** The file detection found: the .onnx or .h5 file, or a TF.js folder's model.json. */
  readonly path: string;
  readonly to: ConvertTarget;
  /** Output file (.onnx) or folder (tfjs), absolute; undefined: beside the input. */
  readonly out: string | undefined;
  readonly tolerance: number;
  /**
   * For a weights-only Keras .h5: the architecture to load it into, as the user named it and as loaded (convert/
   * resolves catalogue names through the hub, which formats/ sits below). `names` are the catalogue's candidates.
   */
  readonly architecture: { readonly spec: string | undefined; readonly names: readonly string[]; load(spec: string): Promise<tf.LayersModel> };
  readonly onProgress: ProgressListener | undefined;
  /** `performance.now()` when the conversion started, for `seconds`. */
  readonly started: number;
}

/** @internal A format's conversion to one target, checked numerically before anything is written. */
export type Converter = (request: ConversionRequest) => Promise<ConversionReport>;
