import type { ModelFormat } from '../core/model-format.js';
import type { ConversionRequest, Converter } from './conversion.js';
import type { ConversionReport, ConvertTarget } from './conversion-report.js';
import type { LayersModelLoader } from './layers-model-conversion.js';

/*
 * Converters whose code loads on first use. Every conversion runs through tfjs, and the registry is read by every
 * command (detection, model ids): importing tfjs there cost each `graft train` or `graft predict` about 0.4 s.
 */

/** A converter that imports its implementation when first called. */
export function lazyConverter(load: () => Promise<Converter>): Converter {
  return async (request: ConversionRequest): Promise<ConversionReport> => (await load())(request);
}

/** layersModelConverters, with it and the loader imported on first use. */
export function lazyLayersConverters(format: ModelFormat, loader: () => Promise<LayersModelLoader>): Record<ConvertTarget, Converter> {
  const converters = async () => (await import('./layers-model-conversion.js')).layersModelConverters(format, await loader());
  return { onnx: lazyConverter(async () => (await converters()).onnx), tfjs: lazyConverter(async () => (await converters()).tfjs) };
}
