import { randomUUID } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../core/errors.js';
import {
  requestedOutputs,
  singleFloatInput,
  graphOf,
  nodesOf,
  nodeOpset,
  valueShape,
  type ModelProto,
  type NodeProto,
} from '../onnx/onnx-model.js';
import { neededNodes } from '../onnx/needed-nodes.js';
import { ImportContext, ImportState, type Kernel, type RunContext } from './import-context.js';
import { findOperator, MICROSOFT_OPERATORS, ONNX_OPERATORS } from './operators.js';
import { asOnnx, device, type Value } from './values.js';

/** Options of {@link importOnnxToTfjs}. */
export interface ImportOnnxOptions {
  /** The file or model name, quoted in errors. Defaults to 'the ONNX model'. */
  readonly source?: string;
  /**
   * Tensors to return, by ONNX name: any intermediate tensor works (e.g. the pooled features that feed
   * the classifier). Defaults to the graph's outputs. Only the nodes these need are imported.
   */
  readonly outputs?: readonly string[];
  /**
   * Starts the graph at this tensor instead of the graph input (fine-tuning's cut point): the imported graph
   * takes the tensor's real values (float, dequantized if the ONNX tensor is quantized) in ONNX layout, and
   * nothing before it is imported. Defaults to the graph's input.
   */
  readonly input?: string;
  /**
   * What quantized activations (outputs of QuantizeLinear and QLinear* ops) become:
   * - `'float'` (default): real values clamped to the quantized type's range, not rounded. Plain float
   *   ops; the clamp keeps the Relu/Relu6 that quantizers fold into the range.
   * - `'round'`: also rounded to the quantization grid (fake quantization, straight-through gradient),
   *   which tracks onnxruntime's integer kernels more closely at the cost of a few extra ops per layer.
   */
  readonly quantizedActivations?: 'float' | 'round';
}

/** Options of {@link OnnxTfjsGraph.predict}. */
export interface PredictOptions {
  /** Training-mode forward pass: Dropout drops. BatchNormalization keeps its stored statistics. Defaults to false. */
  readonly training?: boolean;
  /**
   * With `training`: BatchNormalization normalizes with the batch's own statistics and moves its running
   * mean and variance towards them by this momentum (Keras's `BatchNormalization(momentum=0.99)` in training
   * mode). Undefined (the default) keeps BatchNormalization in inference mode, as the Keras fine-tuning guide advises.
   */
  readonly batchNormMomentum?: number;
}

/**
 * An ONNX graph running as tfjs ops, with its weights as tf.Variables so it can be trained.
 */
export interface OnnxTfjsGraph {
  /** The graph input's ONNX name. */
  readonly inputName: string;
  /** The input's ONNX shape (null for symbolic dims such as the batch), e.g. [null, 3, 224, 224]. */
  readonly inputShape: readonly (number | null)[];
  /** Names of the tensors {@link predictAll} returns, in order; {@link predict} returns the first. */
  readonly outputNames: readonly string[];
  /**
   * Every weight, keyed by the ONNX initializer it came from: Conv, Gemm, MatMul and QLinear weights and
   * biases (int8 ones dequantized to float), BatchNormalization scale/bias (trainable) and running
   * mean/variance (not trainable). Conv weights are stored in tfjs layout ([kH, kW, in, out], or
   * [kH, kW, C, multiplier] for depthwise).
   */
  readonly variables: ReadonlyMap<string, tf.Variable>;
  /**
   * Runs the graph on `input`, laid out as the ONNX input says (NCHW for most ONNX models), and returns
   * the first output in ONNX layout. Call it inside `tf.variableGrads` / an optimizer's `minimize` to train.
   */
  predict(input: tf.Tensor, options?: PredictOptions): tf.Tensor;
  /** Like {@link predict}, returning every requested output by name. */
  predictAll(input: tf.Tensor, options?: PredictOptions): Record<string, tf.Tensor>;
  /** The variables that training should update. */
  trainableVariables(): tf.Variable[];
  /** Frees every variable. */
  dispose(): void;
}

interface Step {
  readonly label: string;
  readonly kernel: Kernel;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
}

/**
 * Imports an ONNX model as a trainable tfjs graph.
 *
 * Runs NHWC inside (tfjs convolutions and pools are NHWC): the input is transposed once, Conv weights
 * are converted at import, and Flatten/Reshape/Transpose/Gather see ONNX (NCHW) order because each
 * value remembers how it is stored and converts only where an op needs the other order. Shape
 * arithmetic (Shape -> Gather -> Unsqueeze -> Concat -> Reshape, as torchvision exports it) runs in JS,
 * and subgraphs of constants are folded at import.
 *
 * Quantized models (QuantizeLinear/DequantizeLinear, QLinearConv, QLinearMatMul, QLinearAdd,
 * QLinearMul, QLinearGlobalAveragePool) import as float graphs with dequantized weights. Activations
 * are not re-quantized, so outputs match onnxruntime only approximately (top-1 agreement, not 1e-4);
 * each quantized tensor's range is kept as a clamp because quantizers fold Relu/Relu6 into it.
 *
 * Supported operators: see {@link ONNX_OPERATORS} and {@link MICROSOFT_OPERATORS}.
 *
 * @throws GraftError `UNSUPPORTED_MODEL` naming the operator and node for an operator (or attribute
 *   combination) it cannot import, and for models with several inputs or non-float inputs.
 * @throws GraftError `INVALID_CONFIG` when `outputs` names a tensor the graph does not have.
 * @example
 * const graph = importOnnxToTfjs(await readOnnxModel('mobilenetv2-12-int8.onnx'), { outputs: ['464_quantized'] });
 * const features = graph.predict(tf.zeros([1, 3, 224, 224])); // [1, 1280, 1, 1]
 */
export function importOnnxToTfjs(model: ModelProto, options: ImportOnnxOptions = {}): OnnxTfjsGraph {
  const source = options.source ?? 'the ONNX model';
  const graph = graphOf(model);
  const input = singleFloatInput(graph, source, 'the tfjs import');
  const inputName = input.name ?? '';
  const nodes = nodesOf(graph);
  const startName = options.input ?? inputName;
  if (options.input !== undefined && !nodes.some((n) => (n.output ?? []).includes(options.input!)) && options.input !== inputName) {
    throw new GraftError('INVALID_CONFIG', `"${source}" has no tensor named "${options.input}" to start from.`, { hint: 'name a node output of the graph' });
  }
  const outputNames = requestedOutputs(graph, options.outputs, source);

  const state = new ImportState(options.quantizedActivations === 'round', graph.initializer ?? [], `onnx-${randomUUID()}`);
  const needed = neededNodes(nodes, outputNames, state.needed, startName);
  const steps: Step[] = [];
  try {
    for (const node of needed) {
      const step = importNode(model, node, state, source);
      if (step) steps.push(step);
    }
  } catch (error) {
    for (const variable of state.variables.values()) variable.dispose();
    throw error;
  }
  const startShape = startName === inputName ? valueShape(input) ?? [] : [];
  return new ImportedGraph(startName, startShape, outputNames, steps, state);
}

/** Imports one node; returns undefined when it was folded into constants at import. */
function importNode(model: ModelProto, node: NodeProto, state: ImportState, source: string): Step | undefined {
  const domain = node.domain ?? '';
  const opType = node.opType ?? '';
  const label = `${opType} node "${node.name || (node.output ?? [])[0] || '?'}"`;
  const importer = findOperator(domain, opType);
  if (!importer) {
    const where = domain === '' ? '' : ` in domain "${domain}"`;
    throw new GraftError('UNSUPPORTED_MODEL', `Cannot import ${label}${where} of "${source}" into tfjs: operator "${opType}" is not supported.`, {
      hint: `supported: ${[...Object.keys(ONNX_OPERATORS), ...Object.keys(MICROSOFT_OPERATORS)].join(', ')}; run the model with onnxruntime instead`,
    });
  }
  const kernel = importer(new ImportContext(node, nodeOpset(model, node), state));
  const inputNames = node.input ?? [];
  const outputs = node.output ?? [];
  // Fold nodes whose inputs are all known now (Constant, shape arithmetic on constants, weight dequantization).
  const constants = inputNames.map((name) => (name ? state.constant(name) : undefined));
  if (opType !== 'Dropout' && inputNames.every((name, i) => name === '' || constants[i] !== undefined)) {
    const results = kernel(constants, { isTraining: false });
    if (results.every((v) => v.kind === 'host')) {
      results.forEach((v, i) => {
        if (v.kind === 'host' && outputs[i]) state.constants.set(outputs[i]!, v);
      });
      return undefined;
    }
    for (const v of results) if (v.kind === 'device') v.tensor.dispose();
  }
  return { label, kernel, inputs: inputNames, outputs };
}

class ImportedGraph implements OnnxTfjsGraph {
  constructor(
    readonly inputName: string,
    readonly inputShape: readonly (number | null)[],
    readonly outputNames: readonly string[],
    private readonly steps: readonly Step[],
    private readonly state: ImportState,
  ) {}

  get variables(): ReadonlyMap<string, tf.Variable> {
    return this.state.variables;
  }

  predict(input: tf.Tensor, options: PredictOptions = {}): tf.Tensor {
    return this.predictAll(input, options)[this.outputNames[0]!]!;
  }

  predictAll(input: tf.Tensor, options: PredictOptions = {}): Record<string, tf.Tensor> {
    this.checkInput(input);
    const run: RunContext = { isTraining: options.training ?? false, ...(options.training && options.batchNormMomentum !== undefined ? { batchNormMomentum: options.batchNormMomentum } : {}) };
    return tf.tidy(() => {
      const values = new Map<string, Value>([[this.inputName, device(input)]]);
      const lookup = (name: string, label: string): Value | undefined => {
        if (name === '') return undefined;
        const value = values.get(name) ?? this.state.constants.get(name);
        if (!value) throw new GraftError('UNSUPPORTED_MODEL', `${label} reads "${name}", which no earlier node produces (the graph is not topologically sorted).`);
        return value;
      };
      for (const step of this.steps) {
        let results: Value[];
        try {
          results = step.kernel(step.inputs.map((name) => lookup(name, step.label)), run);
        } catch (error) {
          if (error instanceof GraftError) throw error;
          throw new GraftError('UNSUPPORTED_MODEL', `${step.label} failed in tfjs: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
        }
        results.forEach((value, i) => {
          const name = step.outputs[i];
          if (name) values.set(name, value);
        });
      }
      const outputs: Record<string, tf.Tensor> = {};
      for (const name of this.outputNames) outputs[name] = asOnnx(lookup(name, 'output')!);
      return outputs;
    });
  }

  trainableVariables(): tf.Variable[] {
    return [...this.state.variables.values()].filter((v) => v.trainable);
  }

  dispose(): void {
    for (const variable of this.state.variables.values()) variable.dispose();
    this.state.variables.clear();
  }

  private checkInput(input: tf.Tensor): void {
    const expected = this.inputShape;
    if (!(input instanceof tf.Tensor)) throw new TypeError(`input must be a tf.Tensor. Received: ${typeof input}`);
    const matches = expected.length === 0 || (input.rank === expected.length && expected.every((d, i) => d === null || d === input.shape[i]));
    if (!matches) {
      throw new RangeError(`Input "${this.inputName}" must have shape [${expected.map((d) => d ?? 'N').join(', ')}] (the ONNX layout). Received: [${input.shape.join(', ')}]`);
    }
  }
}
