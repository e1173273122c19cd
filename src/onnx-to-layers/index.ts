/** ONNX -> TF.js layers model (Keras layers, NHWC), saveable as model.json + weights. @packageDocumentation */
export {
  convertOnnxToLayers,
  LAYER_MICROSOFT_OPERATORS,
  LAYER_OPERATORS,
  toKerasLayout,
  type LayersOutputInfo,
  type OnnxLayersModel,
  type OnnxToLayersOptions,
} from './convert-onnx.js';
