import type { Preprocessing } from '../core/preprocessing.js';
import type { ProgressListener } from '../core/progress.js';
import { GraftError } from '../core/errors.js';
import type { BackboneFlags } from './options.js';

/** What a model's graft.json records of the backbone it was trained on: what `--config` replays besides the config. */
export interface RecordedBackbone {
  /** What was given as --backbone (a catalogue name, URL or path), credentials in a URL already redacted. */
  readonly source: string;
  readonly preprocessing: Preprocessing;
  /** A two-scale model's scales (see multiScaleBackbone): its preprocessing is the wrapped model's, not the backbone's. */
  readonly scales?: readonly number[];
}

const PREPROCESSING_FLAGS = ['inputSize', 'scale', 'layout', 'resize', 'cropFraction'] as const;

/**
 * The backbone flags of a run replaying a graft.json: without --backbone, the backbone the model was trained on (not
 * the default), and with that backbone, its preprocessing where no flag gives it (a --crop-fraction 1 run replayed
 * with the catalogue's 0.875 was another model). Another --backbone keeps its own preprocessing. Said on a line.
 * @throws GraftError INVALID_CONFIG when the recorded backbone is a URL whose credentials graft.json left out.
 */
export function replayBackbone(flags: BackboneFlags, isBackboneGiven: boolean, recorded: RecordedBackbone | undefined, file: string, onProgress: ProgressListener): BackboneFlags {
  if (!recorded || (isBackboneGiven && flags.backbone !== recorded.source)) return flags;
  if (!isBackboneGiven && recorded.source.includes('REDACTED')) {
    throw new GraftError('INVALID_CONFIG', `${file} was trained on a URL whose credentials graft.json does not keep (${recorded.source})`, {
      hint: 'pass the URL again with --backbone <url>',
    });
  }
  const pre = recorded.preprocessing;
  // A preprocessing without cropFraction keeps the whole image: replayed as 1, not left to the catalogue's default.
  // A two-scale model's input is the square around the backbone's centre crop of scales[0]: the backbone's input is
  // that crop (a backbone given crop 1 made the same model with the default crop, so the crop is replayed).
  const crop = recorded.scales?.[0];
  const geometry = crop === undefined ? { inputSize: pre.inputSize, cropFraction: pre.cropFraction ?? 1 } : { inputSize: Math.round(pre.inputSize * crop), cropFraction: crop };
  const recordedValue = { ...geometry, scale: pre.scale, layout: pre.layout, resize: pre.resize };
  const replayed = PREPROCESSING_FLAGS.filter((name) => flags[name] === undefined);
  onProgress({ type: 'info', message: `${isBackboneGiven ? '' : `backbone ${recorded.source} and `}its preprocessing (${replayed.map((name) => `${name} ${String(recordedValue[name])}`).join(', ')}) replayed from ${file}` });
  return { ...flags, backbone: recorded.source, ...Object.fromEntries(replayed.map((name) => [name, recordedValue[name]])) };
}
