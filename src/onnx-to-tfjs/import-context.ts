import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../core/errors.js';
import type { NodeProto, TensorProto } from '../onnx/onnx-model.js';
import { hostFromInitializer, type HostValue, type Value } from './values.js';

/** What a kernel may ask of the run it is part of. */
export interface RunContext {
  /** `predict(x, { training: true })`: Dropout drops. BatchNormalization always uses its stored statistics. */
  readonly isTraining: boolean;
  /** Set while training with BatchNormalization in training mode (see PredictOptions.batchNormMomentum). */
  readonly batchNormMomentum?: number;
}

/** One node's computation, prepared at import: ONNX input values in, ONNX output values out. */
export type Kernel = (inputs: readonly (Value | undefined)[], run: RunContext) => Value[];

/** Turns a node into a kernel; reads attributes and turns weights into variables once, at import. */
export type OpImporter = (ctx: ImportContext) => Kernel;

/**
 * Import-time state shared by every node of one graph: initializers (decoded on first use), constants
 * folded so far, and the variables created for weights.
 */
export class ImportState {
  readonly constants = new Map<string, HostValue>();
  readonly variables = new Map<string, tf.Variable>();
  /** Every tensor some needed node or requested output reads (set by the importer before nodes are imported). */
  readonly needed = new Set<string>();
  private readonly initializers: Map<string, TensorProto>;

  constructor(
    /** Whether quantized activations are rounded to their grid (see ImportOnnxOptions.quantizedActivations). */
    readonly isRoundingActivations: boolean,
    initializers: readonly TensorProto[],
    /**
     * Prefix that keeps tfjs's process-wide variable names unique when a model is imported twice (a random id per
     * import, not a module-level counter: no state outlives a call). Weights are keyed by initializer name, never by it.
     */
    private readonly variablePrefix: string,
  ) {
    this.initializers = new Map(initializers.map((t) => [t.name ?? '', t]));
  }

  isInitializer(name: string): boolean {
    return this.initializers.has(name);
  }

  /** The import-time value of `name` (an initializer, a Constant output or a folded result), if it has one. */
  constant(name: string): HostValue | undefined {
    const known = this.constants.get(name);
    if (known) return known;
    const initializer = this.initializers.get(name);
    if (!initializer) return undefined;
    const value = hostFromInitializer(initializer);
    this.constants.set(name, value);
    return value;
  }

  /** A variable for `key` (created by `make` on first request; the same weight used twice is one variable). */
  variable(key: string, make: () => tf.Tensor, isTrainable: boolean): tf.Variable {
    const existing = this.variables.get(key);
    if (existing) return existing;
    const initial = make();
    const variable = tf.variable(initial, isTrainable, `${this.variablePrefix}/${key}`);
    initial.dispose();
    this.variables.set(key, variable);
    return variable;
  }
}

/** The view of {@link ImportState} one node's importer gets, with errors that name the node. */
export class ImportContext {
  constructor(
    readonly node: NodeProto,
    /** Opset of the node's domain (the default domain's for ONNX ops). */
    readonly opset: number,
    private readonly state: ImportState,
  ) {}

  /** 'Conv node "Conv_0"', the way every import error names a node. */
  get label(): string {
    return `${this.node.opType ?? '?'} node "${this.node.name || (this.node.output ?? [])[0] || '?'}"`;
  }

  /** Whether quantized activations are rounded to their grid (see ImportOnnxOptions.quantizedActivations). */
  get isRoundingActivations(): boolean {
    return this.state.isRoundingActivations;
  }

  inputName(index: number): string {
    return (this.node.input ?? [])[index] ?? '';
  }

  hasInput(index: number): boolean {
    return this.inputName(index) !== '';
  }

  constant(index: number): HostValue | undefined {
    return this.hasInput(index) ? this.state.constant(this.inputName(index)) : undefined;
  }

  /** The import-time value of input `index`; fails naming `what` when it is computed at run time. */
  requireConstant(index: number, what: string): HostValue {
    const value = this.constant(index);
    if (!value) this.fail(`its ${what} (input ${index}, "${this.inputName(index)}") must be a constant or an initializer`);
    return value;
  }

  /** A weight variable keyed by the ONNX tensor it comes from (plus `tag` when one tensor yields several). */
  variable(key: string, make: () => tf.Tensor, isTrainable = true): tf.Variable {
    return this.state.variable(key, make, isTrainable);
  }

  /** Outputs after the first that some consumer or graph output reads. */
  usesExtraOutputs(): boolean {
    return (this.node.output ?? []).slice(1).some((name) => name !== '' && this.state.needed.has(name));
  }

  fail(reason: string): never {
    throw new GraftError('UNSUPPORTED_MODEL', `Cannot import ${this.label} into tfjs: ${reason}.`, {
      hint: 'run the model with onnxruntime instead, or export it without this construct',
    });
  }
}
