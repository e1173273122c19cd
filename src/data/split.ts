import { GraftError } from '../core/errors.js';
import { optionName } from '../core/option-name.js';
import type { LabelledDataset, LabelledItem } from './dataset.js';
import { deriveSeed, mulberry32, shuffleInPlace } from '../core/random.js';

/** Options for {@link stratifiedSplit}. */
export interface SplitOptions {
  /** Fraction of each class held out for validation, in (0, 1). Defaults to 0.2. */
  readonly valFraction?: number;
  /** Seed for the per-class shuffles. Defaults to 0. */
  readonly seed?: number;
  /**
   * A group key per item (as `items`), e.g. a GTSRB frame's track from `--group-by`: a group is held out whole or
   * not at all, so no validation image has a near-copy in training. Left out, every item is its own group.
   */
  readonly groups?: readonly string[];
}

/**
 * Splits labelled items into train and validation, class by class, so each class keeps its share.
 *
 * Each class is sorted by path and then shuffled with its own seeded stream (derived from `seed` and the
 * class name), so the split depends only on the set of files and the seed: not on the order the
 * filesystem listed them, and adding a class leaves the other classes' splits unchanged. A class with at
 * least two items gets at least one validation item and keeps at least one training item; a class with
 * one item goes to train. Both outputs are sorted by label, then path.
 *
 * @throws RangeError when valFraction is not in (0, 1).
 * @example
 * const { train, val } = stratifiedSplit(ds.items, { valFraction: 0.2, seed: 42 });
 */
export function stratifiedSplit(
  items: readonly LabelledItem[],
  options: SplitOptions = {},
): { train: LabelledItem[]; val: LabelledItem[] } {
  const valFraction = options.valFraction ?? 0.2;
  const seed = options.seed ?? 0;
  if (!(valFraction > 0 && valFraction < 1)) {
    throw new RangeError(`valFraction must be in (0, 1). Received: ${valFraction}`);
  }
  const byLabel = new Map<string, LabelledItem[]>();
  for (const item of items) {
    const list = byLabel.get(item.label);
    if (list) list.push(item);
    else byLabel.set(item.label, [item]);
  }
  if (options.groups) return groupedSplit(items, byLabel, options.groups, valFraction, seed);
  const train: LabelledItem[] = [];
  const val: LabelledItem[] = [];
  for (const label of [...byLabel.keys()].sort()) {
    const list = byLabel.get(label)!.slice().sort((a, b) => compare(a.file, b.file));
    shuffleInPlace(list, mulberry32(deriveSeed(seed, label)));
    const n = list.length;
    const nVal = n < 2 ? 0 : Math.min(n - 1, Math.max(1, Math.round(n * valFraction)));
    val.push(...list.slice(0, nVal).sort((a, b) => compare(a.file, b.file)));
    train.push(...list.slice(nVal).sort((a, b) => compare(a.file, b.file)));
  }
  return { train, val };
}

/**
 * {@link stratifiedSplit} by whole groups: each class's groups are sorted by key, shuffled with the class's stream,
 * and held out in that order: the first, then each that brings the class's held-out count nearer its share; a group
 * that would leave the class nothing to train on is kept for training. A group that spans classes goes where its first class put it,
 * unless that leaves a later class with no training image: then that class's largest group is trained on.
 */
function groupedSplit(
  items: readonly LabelledItem[],
  byLabel: ReadonlyMap<string, LabelledItem[]>,
  groups: readonly string[],
  valFraction: number,
  seed: number,
): { train: LabelledItem[]; val: LabelledItem[] } {
  if (groups.length !== items.length) throw new RangeError(`groups has ${groups.length} keys for ${items.length} items`);
  const groupOf = new Map(items.map((item, i) => [item, groups[i]!]));
  const isHeldOut = new Map<string, boolean>();
  for (const label of [...byLabel.keys()].sort()) {
    const list = byLabel.get(label)!;
    const sizes = new Map<string, number>();
    for (const item of list) sizes.set(groupOf.get(item)!, (sizes.get(groupOf.get(item)!) ?? 0) + 1);
    const n = list.length;
    const target = n < 2 ? 0 : Math.min(n - 1, Math.max(1, Math.round(n * valFraction)));
    let held = 0;
    const open: string[] = [];
    for (const [group, size] of sizes) {
      const side = isHeldOut.get(group);
      if (side === undefined) open.push(group);
      else if (side) held += size;
    }
    open.sort(compare);
    shuffleInPlace(open, mulberry32(deriveSeed(seed, label)));
    for (const group of open) {
      const size = sizes.get(group)!;
      // The first group always (as a class of two images gives one), then each that brings the count nearer its share.
      const takes = target > 0 && (held === 0 || held + size / 2 <= target) && held + size < n;
      isHeldOut.set(group, takes);
      if (takes) held += size;
    }
  }
  // A group that spans classes, held out for an earlier class, may hold all of a later one: that class would have
  // nothing to learn from. Its largest group goes back to training (the earlier class keeps a smaller val share).
  for (const label of [...byLabel.keys()].sort()) {
    const list = byLabel.get(label)!;
    if (!list.every((item) => isHeldOut.get(groupOf.get(item)!))) continue;
    const sizes = new Map<string, number>();
    for (const item of list) sizes.set(groupOf.get(item)!, (sizes.get(groupOf.get(item)!) ?? 0) + 1);
    const [largest] = [...sizes].sort(([a, na], [b, nb]) => nb - na || compare(a, b))[0]!;
    isHeldOut.set(largest, false);
  }
  const byPath = (a: LabelledItem, b: LabelledItem): number => compare(a.label, b.label) || compare(a.file, b.file);
  return {
    train: items.filter((item) => !isHeldOut.get(groupOf.get(item)!)).sort(byPath),
    val: items.filter((item) => isHeldOut.get(groupOf.get(item)!)).sort(byPath),
  };
}

/**
 * Makes a separately scanned validation set use the training set's label list (class ids must agree).
 * Validation may lack a class (it then just has no examples of it); it may not add one, because the
 * model could never predict it.
 *
 * @throws GraftError `INVALID_DATASET` naming the validation classes (with images) that training does not have, or
 *   when the validation set has no images.
 */
export function alignLabels(
  train: LabelledDataset,
  val: LabelledDataset,
): { train: LabelledDataset; val: LabelledDataset } {
  if (val.items.length === 0) {
    throw new GraftError('INVALID_DATASET', `No images found in the validation set ${val.root}`, { hint: `pass a folder with one sub-folder of images per class, or leave ${optionName('val')} out` });
  }
  const extra = unknownLabels(val, train.labels);
  if (extra.length > 0) {
    const names = extra.map((l) => `"${l}"`).join(', ');
    throw new GraftError(
      'INVALID_DATASET',
      `Validation set ${val.root} has class${extra.length > 1 ? 'es' : ''} ${names} that the training set ${train.root} does not have. Training classes: ${train.labels.join(', ')}`,
      { hint: `add ${names} to the training set, or remove ${extra.length > 1 ? 'them' : 'it'} from the validation set (check spelling)` },
    );
  }
  const lookup = labelLookup(train.labels);
  return { train, val: { ...val, labels: train.labels.slice(), items: val.items.map((item) => ({ ...item, label: lookup(item.label) ?? item.label })) } };
}

/** The classes of `dataset` that have images and are not among `known` (an empty class folder does not count). */
export function unknownLabels(dataset: LabelledDataset, known: readonly string[]): string[] {
  const present = new Set(dataset.items.map((item) => item.label));
  const lookup = labelLookup(known);
  return dataset.labels.filter((label) => present.has(label) && lookup(label) === undefined);
}

/**
 * Finds a label among `known`: itself, or the one written with the same characters in another Unicode form. A folder
 * copied from macOS names "éclair" decomposed (e + a combining accent, NFD) where Linux and Windows keep what was
 * typed (NFC): the same class, which a comparison of code units would call two.
 */
export function labelLookup(known: readonly string[]): (label: string) => string | undefined {
  const exact = new Set(known);
  const composed = new Map(known.map((label) => [label.normalize('NFC'), label]));
  return (label) => (exact.has(label) ? label : composed.get(label.normalize('NFC')));
}

/** Code-unit order, independent of locale, so splits are the same on every machine. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
