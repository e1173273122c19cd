import {
  encodeOnnxModel,
  makeFloatInitializer,
  makeFloatValueInfo,
  makeInt64Initializer,
  makeNode,
  type AttributeValue,
  type NodeProto,
  type TensorProto,
} from './onnx-model.js';

/**
 * A value flowing through the graph being built: its ONNX name, its Keras shape (batch first,
 * channels last, batch `null`) and whether it is stored NCHW. Rank-4 values are kept NCHW between
 * convolutions because that is what ONNX Conv/Pool expect; everything else is stored as Keras has it.
 */
export interface OnnxValue {
  readonly name: string;
  readonly shape: readonly (number | null)[];
  readonly isNchw: boolean;
}

/** Collects nodes and initializers, hands out unique tensor names and converts layouts once per value. */
export class OnnxGraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private readonly usedNames = new Set<string>();
  private readonly layoutCache = new Map<string, OnnxValue>();
  private readonly ownedConsts = new Map<object, Map<string, string>>();

  /**
   * Ends the graph: flattens each output (back in Keras/TF NHWC order) to [N, D] under its name and encodes the
   * model at opset 13. Both exporters (layers and graph models) finish this way.
   */
  encode(outputs: readonly { readonly value: OnnxValue; readonly name: string }[], io: { graphName: string; inputName: string; inputDims: readonly (number | null)[] }): Uint8Array {
    const outputInfos = outputs.map(({ value, name }) => {
      const keras = this.toKeras(value);
      this.nodes.push(makeNode('Flatten', [keras.name], [name], { attributes: { axis: { int: 1 } } }));
      const featureDim = keras.shape.slice(1).reduce<number>((a, b) => a * (b ?? Number.NaN), 1);
      return makeFloatValueInfo(name, [null, Number.isFinite(featureDim) ? featureDim : null]);
    });
    return encodeOnnxModel({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 13 }],
      producerName: 'graft',
      producerVersion: '0.1.0',
      graph: {
        name: io.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: [makeFloatValueInfo(io.inputName, io.inputDims)],
        output: outputInfos,
      },
    });
  }

  /** `base`, or `base_1`, `base_2`... so two layers or two calls of one model never collide. */
  uniqueName(base: string): string {
    let name = base;
    for (let i = 1; this.usedNames.has(name); i++) name = `${base}_${i}`;
    this.usedNames.add(name);
    return name;
  }

  node(opType: string, inputs: readonly string[], outputBase: string, attributes?: Readonly<Record<string, AttributeValue>>): string {
    const output = this.uniqueName(outputBase);
    this.nodes.push(makeNode(opType, inputs, [output], attributes === undefined ? {} : { attributes }));
    return output;
  }

  floatConst(base: string, dims: readonly number[], data: Float32Array): string {
    const name = this.uniqueName(base);
    this.initializers.push(makeFloatInitializer(name, dims, data));
    return name;
  }

  /**
   * A constant made once per `owner` (a layer) and `base`: a layer called on several tensors (one classifier on an
   * image and on its mirror image, one backbone on two scales) keeps one copy of its weights in the file. `data` is
   * computed on the first call only (a kernel's transpose, once per layer).
   */
  ownedFloatConst(owner: object, base: string, dims: readonly number[], data: () => Float32Array): string {
    let byBase = this.ownedConsts.get(owner);
    if (!byBase) this.ownedConsts.set(owner, (byBase = new Map()));
    const known = byBase.get(base);
    if (known !== undefined) return known;
    const name = this.floatConst(base, dims, data());
    byBase.set(base, name);
    return name;
  }

  int64Const(base: string, data: readonly number[]): string {
    const name = this.uniqueName(base);
    this.initializers.push(makeInt64Initializer(name, [data.length], data));
    return name;
  }

  /** The value stored NCHW (a Transpose [0,3,1,2] when it is NHWC); rank-4 values only. */
  toNchw(value: OnnxValue): OnnxValue {
    if (value.isNchw || value.shape.length !== 4) return value;
    return this.converted(value, true, [0, 3, 1, 2]);
  }

  /** The value stored in Keras (NHWC) order, e.g. before Flatten, Reshape or Dense. */
  toKeras(value: OnnxValue): OnnxValue {
    if (!value.isNchw) return value;
    return this.converted(value, false, [0, 2, 3, 1]);
  }

  private converted(value: OnnxValue, isNchw: boolean, perm: number[]): OnnxValue {
    const key = `${value.name}|${isNchw}`;
    const cached = this.layoutCache.get(key);
    if (cached) return cached;
    const name = this.node('Transpose', [value.name], `${value.name}_${isNchw ? 'nchw' : 'nhwc'}`, { perm: { ints: perm } });
    const result: OnnxValue = { name, shape: value.shape, isNchw };
    this.layoutCache.set(key, result);
    return result;
  }
}
