import { importConv } from './conv.js';
import type { OpImporter } from './import-context.js';
import * as float from './ops-float.js';
import * as quant from './ops-quant.js';
import * as shape from './ops-shape.js';

/** Operators of the default ONNX domain that {@link importOnnxToTfjs} turns into tfjs ops. */
export const ONNX_OPERATORS: Readonly<Record<string, OpImporter>> = {
  Add: float.importAdd,
  AveragePool: float.importAveragePool,
  BatchNormalization: float.importBatchNormalization,
  Cast: shape.importCast,
  Clip: float.importClip,
  Concat: float.importConcat,
  Constant: shape.importConstant,
  ConstantOfShape: shape.importConstantOfShape,
  Conv: importConv,
  DequantizeLinear: quant.importDequantizeLinear,
  Div: float.importDiv,
  Dropout: float.importDropout,
  Flatten: shape.importFlatten,
  Gather: shape.importGather,
  Gemm: float.importGemm,
  GlobalAveragePool: float.importGlobalAveragePool,
  GlobalMaxPool: float.importGlobalMaxPool,
  HardSigmoid: float.importHardSigmoid,
  HardSwish: float.importHardSwish,
  Identity: shape.importIdentity,
  LeakyRelu: float.importLeakyRelu,
  MatMul: float.importMatMul,
  MaxPool: float.importMaxPool,
  Mul: float.importMul,
  Pad: float.importPad,
  QLinearConv: quant.importQLinearConv,
  QLinearMatMul: quant.importQLinearMatMul,
  QuantizeLinear: quant.importQuantizeLinear,
  ReduceMax: float.importReduceMax,
  ReduceMean: float.importReduceMean,
  ReduceSum: float.importReduceSum,
  Relu: float.importRelu,
  Reshape: shape.importReshape,
  Resize: shape.importResize,
  Shape: shape.importShape,
  Sigmoid: float.importSigmoid,
  Slice: shape.importSlice,
  Softmax: float.importSoftmax,
  Squeeze: shape.importSqueeze,
  Sub: float.importSub,
  Tanh: float.importTanh,
  Transpose: shape.importTranspose,
  Unsqueeze: shape.importUnsqueeze,
};

/** Operators of onnxruntime's `com.microsoft` domain (what its quantizer emits besides QLinearConv/MatMul). */
export const MICROSOFT_OPERATORS: Readonly<Record<string, OpImporter>> = {
  QLinearAdd: quant.importQLinearAdd,
  QLinearGlobalAveragePool: quant.importQLinearGlobalAveragePool,
  QLinearMul: quant.importQLinearMul,
};

/** The importer for a node's (domain, op type), if Graft has one. */
export function findOperator(domain: string, opType: string): OpImporter | undefined {
  const table = domain === '' || domain === 'ai.onnx' ? ONNX_OPERATORS : domain === 'com.microsoft' ? MICROSOFT_OPERATORS : undefined;
  return table && Object.hasOwn(table, opType) ? table[opType] : undefined;
}
