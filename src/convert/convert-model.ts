import { resolve } from 'node:path';
import { GraftError } from '../core/errors.js';
import { refuseUnknownKeys } from '../core/unknown-options.js';
import type { ProgressListener } from '../core/progress.js';
import { CONVERT_TARGETS, type ConversionReport, type ConvertTarget } from '../formats/conversion-report.js';
import { detectFormat } from '../formats/detect-format.js';
import { formatEntry } from '../formats/registry.js';
import type { MirrorRule } from '../hub/mirror.js';
import { layersCatalogueNames, loadArchitecture } from './load-architecture.js';

export type { ConversionReport, ConvertTarget };
export { CONVERT_TARGETS };

export interface ConvertOptions {
  readonly to: ConvertTarget;
  /** Output file (.onnx) or folder (tfjs). Defaults to beside the input: `<name>.onnx` or `<name>-tfjs/`. */
  readonly out?: string;
  /** Largest max-abs difference accepted between source and converted outputs. Defaults to 1e-4. */
  readonly tolerance?: number;
  /**
   * For a weights-only Keras .h5 (`model.save_weights`): the architecture to load it into, as a TF.js layers
   * model.json (or its folder), a full Keras .h5, or the catalogue name of a TF.js layers backbone.
   */
  readonly architecture?: string;
  /** Where catalogue architectures are cached. Defaults to the user cache folder (see defaultCacheDir). */
  readonly cacheDir?: string;
  /** Folders searched for a catalogue architecture's files before downloading (the CLI passes GRAFT_MODELS_DIR). */
  readonly modelDirs?: readonly string[];
  /** Hub mirrors for a catalogue architecture's download (the CLI passes GRAFT_HUB_MIRROR and the config file's). */
  readonly mirrors?: readonly MirrorRule[];
  /** Never download a catalogue architecture. Defaults to false. */
  readonly offline?: boolean;
  /** Receives `warning` events, e.g. tfjs falling back to its ~20x slower cpu backend. */
  readonly onProgress?: ProgressListener;
}

/**
 * Converts a model between formats and checks the result numerically on seeded random inputs before anything
 * is written: a conversion that does not match within `tolerance` fails and leaves no output behind.
 *
 * What a format converts to is its entry in the format registry: TF.js layers models and Keras .h5 (full models,
 * or weights-only with `architecture`) to ONNX and TF.js, TF.js graph models to ONNX, ONNX to TF.js (a layers
 * model whose input is NHWC; see `notes`).
 *
 * @throws GraftError `UNSUPPORTED_MODEL` for a target the format does not convert to, or a result that does not
 *   match its source; `INVALID_CONFIG` for `architecture` with anything but a Keras .h5; what detection throws.
 * @example
 * const report = await convertModel('tm-model/', { to: 'onnx' });   // report.check.maxAbsDiff ~1e-5
 * await convertModel('mobilenetv2-12-int8.onnx', { to: 'tfjs', out: 'mobilenetv2-tfjs' });
 * await convertModel('weights.h5', { to: 'onnx', architecture: 'model.json' });
 */
/** Every option convertModel reads (a record, so the compiler checks it against ConvertOptions). */
const CONVERT_OPTIONS: Record<keyof ConvertOptions, true> = { to: true, out: true, tolerance: true, architecture: true, cacheDir: true, modelDirs: true, mirrors: true, offline: true, onProgress: true };

export async function convertModel(input: string, options: ConvertOptions): Promise<ConversionReport> {
  const started = performance.now();
  // Checked before the model is read: a caller's value, not the model's fault (a tolerance of NaN "did not match").
  if (typeof input !== 'string' || input === '') throw new GraftError('INVALID_CONFIG', `convertModel needs the model's path. Received: ${JSON.stringify(input)}`);
  if (options === undefined || !CONVERT_TARGETS.includes(options.to)) {
    throw new GraftError('INVALID_CONFIG', `convertModel's to must be 'onnx' or 'tfjs'. Received: ${JSON.stringify(options?.to)}`, { hint: "e.g. convertModel('model.h5', { to: 'onnx' })" });
  }
  refuseUnknownKeys('convertModel', options, CONVERT_OPTIONS);
  if (options.tolerance !== undefined && !(options.tolerance > 0 && Number.isFinite(options.tolerance))) {
    throw new GraftError('INVALID_CONFIG', `tolerance must be a positive number (the largest difference from the source model accepted). Received: ${options.tolerance}`, { hint: 'e.g. tolerance: 1e-4 (the default)' });
  }
  const detected = await detectFormat(resolve(input));
  const entry = formatEntry(detected.format);
  if (options.architecture !== undefined && !entry.takesArchitecture) {
    throw new GraftError('INVALID_CONFIG', `--architecture applies to a weights-only Keras .h5; ${detected.path} is a ${detected.format} model`, {
      hint: 'drop --architecture, or pass the .h5 written by model.save_weights()',
    });
  }
  const convert = entry.convertTo[options.to];
  if (!convert) {
    const targets = Object.keys(entry.convertTo);
    throw new GraftError('UNSUPPORTED_MODEL', `${detected.path} is a ${entry.name} model, which converts to ${targets.join(' or ')} only (asked: --to ${options.to})`, {
      hint: targets.map((target) => `use --to ${target}`).join(', or '),
    });
  }
  return convert({
    path: detected.path,
    to: options.to,
    out: options.out,
    tolerance: options.tolerance ?? 1e-4,
    architecture: { spec: options.architecture, names: layersCatalogueNames(), load: (spec) => loadArchitecture(spec, options) },
    onProgress: options.onProgress,
    started,
  });
}
