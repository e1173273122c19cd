import type { ModelFormat } from '../core/model-format.js';

/** What `graft convert` writes: an ONNX file, or a TF.js layers model folder. */
/** What `graft convert` writes. */
export const CONVERT_TARGETS = ['onnx', 'tfjs'] as const;
export type ConvertTarget = (typeof CONVERT_TARGETS)[number];

/** What `graft convert` prints: what it read, what it wrote, and the numerical check it ran. */
export interface ConversionReport {
  readonly read: { readonly path: string; readonly format: ModelFormat; readonly inputShape: readonly number[]; readonly outputShape: readonly number[] };
  /** `inputShape`/`outputShape` (without the batch) are given when they differ from the source's (ONNX NCHW -> TF.js NHWC). */
  readonly wrote: { readonly path: string; readonly format: ConvertTarget; readonly bytes: number; readonly inputShape?: readonly number[]; readonly outputShape?: readonly number[] };
  readonly check: {
    readonly inputs: string;
    readonly samples: number;
    readonly maxAbsDiff: number;
    readonly tolerance: number;
    /** What the converted model was compared with, when not the source model run by its own runtime. */
    readonly reference?: string;
    /** For a quantized ONNX source: the converted float model against onnxruntime's integer kernels (informative, not gated). */
    readonly onnxruntime?: { readonly maxAbsDiff: number };
  };
  /** Things the user must know about the result, e.g. "input is NHWC [1,224,224,3]; ONNX was NCHW [1,3,224,224]". */
  readonly notes?: readonly string[];
  readonly seconds: number;
}
