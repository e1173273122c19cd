import { GraftError } from '../core/errors.js';
import type { ModelFormat } from '../core/model-format.js';
import type { ModelFormatEntry } from './format-entry.js';
import { KERAS_H5_FORMAT } from './keras-h5-format.js';
import { ONNX_FORMAT } from './onnx-format.js';
import { TFJS_GRAPH_FORMAT } from './tfjs-graph-format.js';
import { TFJS_LAYERS_FORMAT } from './tfjs-layers-format.js';

/**
 * The format registry: one entry per `ModelFormat` (the type makes a missing one a compile error), in the order
 * detection asks them: the HDF5 signature first, TF.js model.json next (graph before layers), and ONNX last, whose
 * check is the loosest. The hub (what a path is, its model id), the engine (its features) and `graft convert`
 * (what it becomes) all read this table; adding a format is adding an entry.
 */
const REGISTRY: Readonly<Record<ModelFormat, ModelFormatEntry>> = {
  'keras-h5': KERAS_H5_FORMAT,
  'tfjs-graph': TFJS_GRAPH_FORMAT,
  'tfjs-layers': TFJS_LAYERS_FORMAT,
  onnx: ONNX_FORMAT,
};

/** @internal Every format entry, in detection order. */
export const FORMAT_ENTRIES: readonly ModelFormatEntry[] = Object.values(REGISTRY);


/** @internal The entry of `format`. @throws GraftError `INTERNAL` for a name outside the union (a corrupt manifest). */
export function formatEntry(format: ModelFormat): ModelFormatEntry {
  const entry: ModelFormatEntry | undefined = REGISTRY[format];
  if (!entry) throw new GraftError('INTERNAL', `Unknown model format "${String(format)}". Must be one of: ${FORMAT_ENTRIES.map((e) => e.name).join(', ')}`);
  return entry;
}
