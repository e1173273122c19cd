import type * as tf from '@tensorflow/tfjs';
import type { ModelFormat } from '../core/model-format.js';
import type { Layout } from '../core/preprocessing.js';
import type { ProgressListener } from '../core/progress.js';
import type { ModelProto } from '../onnx/onnx-model.js';
import type { Converter } from './conversion.js';
import type { ConvertTarget } from './conversion-report.js';
import type { BackboneLocation } from './model-location.js';

/** A file the formats are asked to recognise, read once for all of them. */
export interface ModelCandidate {
  /** The file to read: an .onnx or .h5 file, or a TF.js folder's model.json. */
  readonly path: string;
  /** Its first 16 bytes. */
  readonly head: Uint8Array;
  /** A model.json parsed (undefined for any other file). JSON that is not an object reads as `{}`. */
  readonly json: Readonly<Record<string, unknown>> | undefined;
}

/** `true` when the candidate is this format; otherwise why the format declined (listed when none matches). */
export type Detection = true | string;

/** @internal What opening a backbone for its features needs (engine/ builds it from a resolved backbone). */
export interface FeatureRequest {
  readonly location: BackboneLocation;
  /** Path or URL as the user gave it, quoted in errors. */
  readonly source: string;
  /** Model id: names the cached export and its description. */
  readonly sha256: string;
  /** The user's --feature-output: an ONNX tensor, a TF.js layer or a graph node. */
  readonly featureOutput: string | undefined;
  /** The user's --input-size (a graph model is exported at this size). */
  readonly inputSize: number | undefined;
  /** What the catalogue says when the user says nothing. */
  readonly catalogue: { readonly featureLayer?: string; readonly inputSize?: number } | undefined;
  /** Root of Graft's cache: exports and descriptions live under it. */
  readonly cacheDir: string;
  readonly onProgress: ProgressListener | undefined;
}

/** @internal A backbone's features as a format provides them: described, with its ONNX form built on first use. */
export interface FeatureSource {
  readonly featureDim: number;
  /** Tensor, layer or node whose output is the feature vector (recorded as BackboneInfo.featureOutput). */
  readonly featureOutput: string;
  /** Input layout and size the model itself declares, when it does (the catalogue and the user override them). */
  readonly declared: { readonly layout?: Layout; readonly inputSize?: number };
  /** Name of the feature output in `onnxBytes()`. */
  readonly onnxFeatureOutput: string;
  /** ONNX bytes with input [N, ...] and the feature output [N, featureDim]. */
  onnxBytes(): Promise<Uint8Array>;
  /**
   * The same model decoded, built once and shared (read it, never change it: the wrappers clone), for a format that
   * parses the model anyway (ONNX); the others are decoded from their bytes on first use (see onnxModelOf).
   */
  readonly onnxModel?: () => Promise<ModelProto>;
  /**
   * The features as a tfjs layers model, for the `tfjs` runtime (TF.js layers and Keras models only): a model of the
   * caller's own, each call, which the caller frees (`disposeLayersModel`).
   */
  readonly layersModel?: () => Promise<tf.LayersModel>;
  /** Said when the backbone loads in onnxruntime although it is not ONNX (why: speed). */
  readonly ortMessage?: string;
}

/** What a model's files state about its sizes, read without running it; a size they do not state is absent. */
export interface DeclaredSizes {
  /** Side of the square input image, where the model fixes it. */
  readonly inputSize?: number;
  /** Length of the feature vector Graft takes from the model. */
  readonly featureDim?: number;
  /** Length of the model's own output vector, where it is not the features (a feature-vector model's output is). */
  readonly outputDim?: number;
}

/**
 * @internal Everything Graft knows about one model format, in one place: how to recognise it, where its files
 * are, its model id, how to get features out of it (engine/) and what it converts to (convert/). The hub, the
 * engine and `graft convert` all go through these entries; adding a format is adding one (see registry.ts).
 */
export interface ModelFormatEntry {
  readonly name: ModelFormat;
  /** How users know it, for messages: 'ONNX (.onnx)'. */
  readonly label: string;
  /** 'file': one file (found in a folder by `extensions`); 'folder': model.json plus weight shards. */
  readonly storage: 'file' | 'folder';
  /** Endings of the model file's name, for file formats; folder formats read model.json. */
  readonly extensions: readonly string[];
  /** Whether `candidate` is this format, by content; otherwise why not. */
  detect(candidate: ModelCandidate): Detection;
  /** Where the model is, given the file detection found. */
  locate(path: string): BackboneLocation;
  /** sha256 over the model's bytes: the model id in cache keys and manifests. */
  modelId(location: BackboneLocation): Promise<string>;
  /** The backbone's features, described (cached per model id) and exported to ONNX on first use. */
  openFeatures(request: FeatureRequest): Promise<FeatureSource>;
  /**
   * The sizes the model's files state (its graph and weight shapes), for the hub to tell a download from the catalogue
   * model it is named after. Absent: the format states none Graft reads.
   */
  declaredSizes?(location: BackboneLocation, source: string): Promise<DeclaredSizes>;
  /** What `graft convert` turns this format into. */
  readonly convertTo: Readonly<Partial<Record<ConvertTarget, Converter>>>;
  /** Whether `graft convert --architecture` applies (weights-only Keras files). */
  readonly takesArchitecture?: boolean;
}
