import { GraftError } from '../../core/errors.js';
import type { FeatureMatrix } from '../train-head.js';
import { CROPS_PER_IMAGE } from './crop-rows.js';
import type { HeadTrainingSet, LinearHeadOptions } from './linear-head-options.js';

/**
 * Refuses, before any work, what a caller of `fitLinearHead` can pass that it cannot run: options that contradict
 * each other or ask for features the set lacks, and a set whose parts disagree in shape. Each is the caller's
 * configuration, so a GraftError naming the options (the solver's own RangeErrors are left to what no caller reaches).
 * @throws GraftError `INVALID_CONFIG` naming the options or the set's fields, with the values received.
 */
export function checkLinearHeadCall(set: HeadTrainingSet, options: LinearHeadOptions): void {
  const { plain, mirrored, labels, classNames } = set;
  const k = classNames.length;
  refuse(!(Number.isInteger(plain.dim) && plain.dim >= 1), `set.plain.dim must be a whole number of features >= 1. Received: ${plain.dim}`, 'dim is the length of one feature vector');
  refuseShape('set.plain', plain, plain.count, plain.dim, 'one row of features per image');
  refuse(options.c !== 'auto' && !(typeof options.c === 'number' && options.c > 0 && Number.isFinite(options.c)), `c must be a positive number, or 'auto'. Received: ${show(options.c)}`, "e.g. c: 1 (sklearn's C: larger fits the training rows more closely), or 'auto' to choose it by cross-validation");
  refuse(options.maxFolds !== 'auto' && !(Number.isInteger(options.maxFolds) && options.maxFolds >= 2), `maxFolds must be a whole number >= 2, or 'auto'. Received: ${show(options.maxFolds)}`, "e.g. maxFolds: 5, or 'auto'");
  refuse(!Number.isSafeInteger(options.seed), `seed must be a whole number. Received: ${show(options.seed)}`, 'e.g. seed: 42');
  refuse(labels.length !== plain.count, `set.labels has ${labels.length} entries for ${plain.count} rows of set.plain`, 'give one label per row of set.plain, in the same order');
  const badLabel = labels.findIndex((l) => !(Number.isInteger(l) && l >= 0 && l < k));
  refuse(badLabel >= 0, `set.labels must index set.classNames, from 0 to ${k - 1}. Received: ${labels[badLabel]} at row ${badLabel}`, 'labels are positions in set.classNames');
  refuse(set.files.length !== plain.count, `set.files has ${set.files.length} entries for ${plain.count} rows of set.plain`, 'give the file of each row, in the same order (label issues name them)');
  refuse(set.groups !== undefined && set.groups.length !== plain.count, `set.groups has ${set.groups?.length} entries for ${plain.count} rows of set.plain`, 'give the group of each row, or leave groups out');
  if (mirrored) refuseShape('set.mirrored', mirrored, plain.count, plain.dim, 'the mirror image of each row of set.plain, in the same order');
  if (set.crops) {
    refuseShape('set.crops.plain', set.crops.plain, plain.count * CROPS_PER_IMAGE, plain.dim, `${CROPS_PER_IMAGE} corner crops per row of set.plain, image-major`);
    if (set.crops.mirrored) refuseShape('set.crops.mirrored', set.crops.mirrored, plain.count * CROPS_PER_IMAGE, plain.dim, `${CROPS_PER_IMAGE} corner crops per mirror image, image-major`);
  }
  // A NaN or infinity in the features makes the solver stop at its first step with a head of zeros (or NaN).
  for (const [name, m] of [['set.plain', plain], ['set.mirrored', mirrored], ['set.crops.plain', set.crops?.plain], ['set.crops.mirrored', set.crops?.mirrored]] as const) {
    if (!m) continue;
    const at = firstNonFinite(m.data, m.count * m.dim);
    if (at < 0) continue;
    const row = Math.floor(at / m.dim);
    const file = name === 'set.plain' || name === 'set.mirrored' ? ` (${set.files[row]})` : '';
    refuse(true, `${name} holds ${m.data[at]} at row ${row}${file}, feature ${at % m.dim}: features must be finite numbers`, 'compute the features again; a backbone that outputs NaN or infinity for an image is broken for it');
  }

  const wantsMirror = options.trainViews === 'plain+flip' || options.tta === true;
  refuse(wantsMirror && !mirrored, `trainViews: 'plain+flip' and tta: true need the mirror images' features, and set.mirrored is missing. Received: trainViews: ${show(options.trainViews)}, tta: ${show(options.tta)}`, "pass set.mirrored, or trainViews: 'plain' and tta: false (or 'auto', which chooses among what the set has)");
  const wantsCrops = options.crops === true || options.crops === 'auto';
  refuse(wantsCrops && !set.crops, `crops: ${show(options.crops)} needs crop rows, and set.crops is missing`, 'pass set.crops (four corner crops per image), or leave crops out');
  if (options.crossValidate === false) {
    const open = (['c', 'trainViews', 'tta'] as const).filter((key) => options[key] === 'auto');
    refuse(open.length > 0, `crossValidate: false chooses nothing, and ${open.join(', ')} ${open.length === 1 ? 'is' : 'are'} 'auto'. Received: c: ${show(options.c)}, trainViews: ${show(options.trainViews)}, tta: ${show(options.tta)}`, "fix each of them (e.g. c: 1, trainViews: 'plain', tta: false), or leave crossValidate out to let cross-validation choose");
  }
}

function refuse(isRefused: boolean, message: string, hint: string): void {
  if (isRefused) throw new GraftError('INVALID_CONFIG', message, { hint });
}

function refuseShape(name: string, m: FeatureMatrix, rows: number, dim: number, what: string): void {
  // Said when the data alone is short: the count and dim say what it should hold.
  const short = m.data.length < rows * dim ? ` in ${m.data.length} values` : '';
  refuse(m.count !== rows || m.dim !== dim || short !== '', `${name} must hold ${rows} rows of ${dim} features. Received: ${m.count} rows of ${m.dim}${m.count === rows && m.dim === dim ? short : ''}`, `${name} holds ${what}`);
}

function show(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : String(value);
}

/** The index of the first value of `data[0, length)` that is NaN or infinite, else -1. */
function firstNonFinite(data: Float32Array, length: number): number {
  for (let i = 0; i < length; i++) {
    // v - v is 0 for a finite v and NaN for NaN and both infinities: one test per value.
    const v = data[i]!;
    if (v - v !== 0) return i;
  }
  return -1;
}
