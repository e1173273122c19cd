import type { ModelFormat } from '../core/model-format.js';
import type { Preprocessing } from '../core/preprocessing.js';

/** The format a backbone arrived in: the one `ModelFormat` union, under the name earlier releases exported. */
export type BackboneFormat = ModelFormat;

/** What identifies a backbone and how to feed it. Recorded in every model manifest. */
export interface BackboneInfo {
  /** Catalogue name (`mobilenet_v2`) or the file/folder basename. */
  readonly name: string;
  /** Path or URL as the user gave it, resolved to an absolute path for local files. */
  readonly source: string;
  readonly format: BackboneFormat;
  /** sha256 of the model's bytes (ONNX file, or model.json + weight files): the model id in cache keys. */
  readonly sha256: string;
  readonly preprocessing: Preprocessing;
  /** Length of one feature vector. */
  readonly featureDim: number;
  /** Graph tensor (ONNX) or layer (TF.js) whose output is the feature vector. */
  readonly featureOutput: string;
  /**
   * The tensor or layer the user named (`--feature-output`); absent for the automatic choice. Features taken from
   * another tensor of the same model are other features: it is part of their cache key.
   */
  readonly featureChoice?: string;
  /**
   * Multi-scale features (multiScaleBackbone): the crop of each scale as a share of the input square, in feature
   * order, e.g. [0.875, 1]; the vector is their features side by side. Absent: one scale.
   */
  readonly scales?: readonly number[];
}

/**
 * A frozen backbone ready to run: maps a batch of preprocessed images to feature vectors.
 * Implementations: `OrtBackbone` (onnxruntime-node, the fast path) and `TfjsBackbone` (tfjs-wasm).
 */
export interface Backbone {
  readonly info: BackboneInfo;
  /**
   * Runs the backbone on `count` images packed in the model's layout
   * (`count * 3 * size * size` floats, already scaled). Returns `count * featureDim` floats.
   */
  embed(input: Float32Array, count: number): Promise<Float32Array>;
  /** Releases the session or tensors. Safe to call twice. */
  dispose(): Promise<void>;
}
