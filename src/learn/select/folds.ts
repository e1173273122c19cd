import { GraftError } from '../../core/errors.js';
import { optionExample, optionName } from '../../core/option-name.js';
import { fileNamePattern } from '../../core/file-name-pattern.js';
import { mulberry32, shuffleInPlace } from '../../core/random.js';
import type { ProgressListener } from '../../core/progress.js';

/** Folds for cross-validation, one per image. */
export interface FoldAssignment {
  /** Fold of each image, 0..k-1. */
  readonly fold: Int32Array;
  readonly k: number;
}

/** The most folds Graft uses (the reference probe's 5). */
export const MAX_FOLDS = 5;

/**
 * Stratified, grouped k-fold assignment, seeded: images of one group (frames of one physical object, shots of one
 * plant) always share a fold, so no group is on both sides of a split; each class is spread over the folds as evenly
 * as its groups allow. Groups are placed largest first (ties in seeded random order), each into the fold that holds
 * the least of its classes relative to their totals, then the fewest images.
 *
 * k is `MAX_FOLDS`, lowered to the number of groups of the smallest class so that every class is in every fold's
 * training part.
 *
 * @param labels class index of each image.
 * @param groups group key of each image; undefined puts every image in a group of its own.
 * @throws GraftError `INVALID_DATASET` naming the classes with fewer than 2 groups (cross-validation cannot judge them).
 */
export function assignFolds(labels: Int32Array, classNames: readonly string[], groups: readonly string[] | undefined, seed: number, maxFolds = MAX_FOLDS): FoldAssignment {
  const grouped = groupByKey(labels, classNames.length, groups);
  const { groupsPerClass } = grouped;
  const tooSmall = classNames.filter((_, c) => groupsPerClass[c]! < 2);
  if (tooSmall.length > 0) {
    const unit = groups ? 'group' : 'image';
    // With groups, a class of many images in one group is the pattern's doing (it captured nothing, or the class
    // itself): say which key it gave, rather than ask for more images.
    const firstOf = (c: string): number => labels.indexOf(classNames.indexOf(c));
    const oneGroupOfMany = groups ? tooSmall.find((c) => labels.filter((l) => l === classNames.indexOf(c)).length > 1) : undefined;
    const hint = oneGroupOfMany !== undefined
      ? `every image of "${oneGroupOfMany}" has the group key ${JSON.stringify(groups![firstOf(oneGroupOfMany)]!.replace(/^g:/, ''))}: check ${optionName('groupBy')} (its capture group should name a track or a session, not the class, and match the file names), or fix ${optionName('c')} to fit one head without cross-validation`
      : `add images to ${tooSmall.length === 1 ? 'that class' : 'those classes'}, or fix ${optionName('c')} to fit one head without cross-validation, e.g. ${optionExample('c', 0.1)}`;
    throw new GraftError(
      'INVALID_DATASET',
      `Cross-validation needs at least 2 ${unit}s in every class; ${tooSmall.map((c) => `"${c}" has ${groupsPerClass[classNames.indexOf(c)]}`).join(', ')}`,
      { hint },
    );
  }
  const k = Math.max(2, Math.min(maxFolds, ...groupsPerClass));
  return { fold: placeGroups(labels, grouped, seed, k), k };
}

/**
 * A held-out part of about 1/`parts` of the images, grouped and stratified like fold 0 of {@link assignFolds} (and
 * equal to it when every class has `parts` groups or more). Classes with fewer groups are not a reason to hold out
 * more: their groups are spread as evenly as the others', and a class of one group is never held out, so every class
 * is trained on. Returns 1 for each held-out image.
 */
export function holdoutPart(labels: Int32Array, classNames: readonly string[], groups: readonly string[] | undefined, seed: number, parts = MAX_FOLDS): Uint8Array {
  const grouped = groupByKey(labels, classNames.length, groups);
  const fold = placeGroups(labels, grouped, seed, parts);
  const held = Uint8Array.from(fold, (f) => (f === 0 ? 1 : 0));
  for (let i = 0; i < labels.length; i++) if (grouped.groupsPerClass[labels[i]!]! < 2) held[i] = 0;
  return held;
}

interface GroupedImages {
  /** The images of each group, in first-seen order. */
  readonly members: number[][];
  readonly groupsPerClass: number[];
  readonly imagesPerClass: number[];
}

function groupByKey(labels: Int32Array, numClasses: number, groups: readonly string[] | undefined): GroupedImages {
  if (groups && groups.length !== labels.length) throw new RangeError(`groups (${groups.length}) and labels (${labels.length}) differ in length`);
  const members = new Map<string, number[]>();
  labels.forEach((_, i) => {
    const key = groups ? groups[i]! : String(i);
    const list = members.get(key);
    if (list) list.push(i);
    else members.set(key, [i]);
  });
  const groupsPerClass = new Array<number>(numClasses).fill(0);
  const imagesPerClass = new Array<number>(numClasses).fill(0);
  for (const images of members.values()) {
    const classes = new Set(images.map((i) => labels[i]!));
    for (const c of classes) groupsPerClass[c]!++;
    for (const i of images) imagesPerClass[labels[i]!]!++;
  }
  return { members: [...members.values()], groupsPerClass, imagesPerClass };
}

/** The fold of each image: groups largest first (ties in seeded order), each where its classes are least, then fewest images. */
function placeGroups(labels: Int32Array, grouped: GroupedImages, seed: number, k: number): Int32Array {
  const { imagesPerClass } = grouped;
  const order = [...grouped.members];
  shuffleInPlace(order, mulberry32(seed));
  // Stable sort keeps the seeded order among groups of equal size.
  order.sort((a, b) => b.length - a.length);
  const fold = new Int32Array(labels.length);
  const foldClassCounts = Array.from({ length: k }, () => new Float64Array(imagesPerClass.length));
  const foldSizes = new Array<number>(k).fill(0);
  for (const images of order) {
    let best = 0;
    let bestCost = Infinity;
    for (let f = 0; f < k; f++) {
      let cost = 0;
      for (const i of images) cost += foldClassCounts[f]![labels[i]!]! / imagesPerClass[labels[i]!]!;
      if (cost < bestCost - 1e-12 || (Math.abs(cost - bestCost) <= 1e-12 && foldSizes[f]! < foldSizes[best]!)) {
        best = f;
        bestCost = cost;
      }
    }
    for (const i of images) {
      fold[i] = best;
      foldClassCounts[best]![labels[i]!]!++;
    }
    foldSizes[best]! += images.length;
  }
  return fold;
}

/**
 * Group keys from file names and a `--group-by` pattern: the first capture group of the regular expression where
 * it has one, else the whole match, applied to each file's base name. A file the pattern does not match is its own
 * group.
 *
 * @example
 * groupKeys(['00000_00012_00003.png'], '^(\\d+_\\d+)_') // ['00000_00012'] (GTSRB: class and track)
 * With `onProgress`, file names the pattern misses are reported (a `GROUP_BY_UNMATCHED` warning).
 * @throws GraftError `INVALID_CONFIG` for a pattern that is not a valid regular expression.
 */
export function groupKeys(files: readonly string[], pattern: string, onProgress?: ProgressListener): string[] {
  const groupOf = fileNamePattern('groupBy', pattern, `e.g. ${optionExample('groupBy', '^(\\d+_\\d+)_', "'^(\\d+_\\d+)_'")} groups GTSRB frames by class and track`);
  const keys = files.map((file) => {
    const group = groupOf(baseName(file));
    return group === undefined ? `f:${file}` : `g:${group}`;
  });
  const missed = files.filter((_, i) => keys[i]!.startsWith('f:'));
  if (missed.length > 0 && onProgress) {
    // A pattern that misses file names (a typo, another naming scheme) groups nothing: said, not silent.
    const example = baseName(missed[0]!);
    const message =
      missed.length === files.length
        ? `${optionExample('groupBy', pattern, `'${pattern}'`)} matched none of the ${files.length} training file names (e.g. "${example}"): every image is its own group`
        : `${optionExample('groupBy', pattern, `'${pattern}'`)} matched ${files.length - missed.length} of ${files.length} training file names; the ${missed.length} others (e.g. "${example}") are each their own group`;
    onProgress({ type: 'warning', code: 'GROUP_BY_UNMATCHED', message });
  }
  return keys;
}

function baseName(file: string): string {
  return file.split(/[\\/]/).at(-1)!;
}
