import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../core/errors.js';
import type { NodeProto } from '../onnx/onnx-model.js';
import type { ImportContext } from '../onnx-to-tfjs/import-context.js';
import type { HostValue } from '../onnx-to-tfjs/values.js';
import { LayerBuilder, symbolic, toNhwc, type LayerValue, type SymbolicValue } from './layer-values.js';

/** What a node converter gets: its node, its input values, the layer builder and the graph around it. */
export class NodeConversion {
  constructor(
    /** The importer's view of the node (attributes, constants, ONNX-style failures); shared with onnx-to-tfjs. */
    readonly ctx: ImportContext,
    readonly inputs: readonly (LayerValue | undefined)[],
    readonly builder: LayerBuilder,
    private readonly source: string,
    /** The nodes reading each tensor, for fusions (MatMul + Add -> Dense with bias). */
    private readonly consumers: ReadonlyMap<string, readonly NodeProto[]>,
    /** Tensors that are graph outputs: never fused away. */
    private readonly outputs: ReadonlySet<string>,
    /** Marks a later node as done by this one, with its output value. */
    private readonly fuse: (node: NodeProto, value: LayerValue) => void,
    /** The import-time value of any tensor, if it has one (initializers and folded constants). */
    private readonly constantOf: (name: string) => HostValue | undefined,
  ) {}

  get node(): NodeProto {
    return this.ctx.node;
  }

  /** 'Conv node "Conv_0"', the way every error names a node. */
  get label(): string {
    return this.ctx.label;
  }

  /** Base for the Keras names of this node's layers. */
  get baseName(): string {
    return this.node.name || (this.node.output ?? [])[0] || this.node.opType || 'node';
  }

  fail(reason: string): never {
    throw new GraftError('UNSUPPORTED_MODEL', `Cannot convert ${this.label} of "${this.source}" to a TF.js layers model: ${reason}.`, {
      hint: 'importOnnxToTfjs runs such graphs as tfjs ops (not as a saveable layers model), or run the model with onnxruntime',
    });
  }

  /** Input `index` as a symbolic tensor value (computed from the model input). */
  symbolicInput(index: number, what = `input ${index}`): SymbolicValue {
    const value = this.inputs[index];
    if (!value) this.fail(`${what} ("${this.ctx.inputName(index)}") has no value`);
    if (value.kind !== 'symbolic') this.fail(`${what} ("${this.ctx.inputName(index)}") is a constant; Keras layers need it computed from the input`);
    return value;
  }

  /** Input `index` as a constant (weights, shapes); fails naming `what` when it is computed from the input. */
  constantInput(index: number, what: string): HostValue {
    const value = this.inputs[index];
    if (!value || value.kind !== 'host') this.fail(`its ${what} (input ${index}, "${this.ctx.inputName(index)}") must be a constant or an initializer`);
    return value;
  }

  /** The single node reading this node's first output, when nothing else (graph outputs included) reads it. */
  soleConsumer(): NodeProto | undefined {
    const out = (this.node.output ?? [])[0] ?? '';
    const readers = this.consumers.get(out) ?? [];
    return readers.length === 1 && !this.outputs.has(out) ? readers[0] : undefined;
  }

  /** The constant value of a tensor by name (for looking at a consumer's other operand). */
  constantNamed(name: string): HostValue | undefined {
    return this.constantOf(name);
  }

  /** Records that `node` is computed by this one's layers. */
  fuseInto(node: NodeProto, value: LayerValue): void {
    this.fuse(node, value);
  }

  /** A layer applied to the value as stored, keeping its layout and shape (activations). */
  elementwise(value: SymbolicValue, layer: tf.layers.Layer, bounds = { lower: -Infinity, upper: Infinity }): SymbolicValue {
    return symbolic(this.builder.apply(layer, value.tensor), value.shape, value.layout, bounds);
  }

  /** The NHWC-stored tensor of a rank-4 value. */
  nhwc(value: SymbolicValue): tf.SymbolicTensor {
    if (value.shape.length !== 4) this.fail(`it needs a rank-4 [N, C, H, W] input, got [${value.shape.join(', ')}]`);
    return toNhwc(this.builder, value, this.baseName);
  }
}
