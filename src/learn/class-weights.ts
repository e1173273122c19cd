import { optionExample } from '../core/option-name.js';
/** Per-class weights, the same for every head and for fine-tuning. */

/**
 * Row weights by class: 1 for 'none'; for 'balanced' class c weighs n / (K n_c), as scikit-learn's
 * class_weight='balanced' and Keras's usual recipe do, so that every class's rows weigh n / K in all. On classes of
 * one size every weight is exactly 1. A class with no rows weighs 0.
 */
export function classWeightsFor(labels: Int32Array, numClasses: number, mode: 'none' | 'balanced'): Float32Array {
  const weights = new Float32Array(numClasses).fill(1);
  if (mode === 'none') return weights;
  const counts = new Float64Array(numClasses);
  for (const label of labels) counts[label] = counts[label]! + 1;
  for (let c = 0; c < numClasses; c++) weights[c] = counts[c]! > 0 ? labels.length / (numClasses * counts[c]!) : 0;
  return weights;
}

/** The weights, or undefined when every one is 1: callers then compute exactly as unweighted. */
export function unlessAllOne(weights: Float32Array): Float32Array | undefined {
  return weights.every((w) => w === 1) ? undefined : weights;
}

/**
 * One line for the run's log when class sizes differ by 2x or more: what the class weights do about it, and how to
 * change that. Undefined when the classes are about the same size.
 */
export function classBalanceNote(labels: readonly string[], mode: 'none' | 'balanced'): string | undefined {
  const counts = new Map<string, number>();
  for (const label of labels) counts.set(label, (counts.get(label) ?? 0) + 1);
  const sizes = [...counts].sort((a, b) => a[1] - b[1]);
  const [rarest, commonest] = [sizes[0], sizes.at(-1)];
  if (!rarest || !commonest || commonest[1] < 2 * rarest[1]) return undefined;
  const spread = `class sizes differ: "${rarest[0]}" has ${rarest[1]} training image${rarest[1] === 1 ? '' : 's'}, "${commonest[0]}" ${commonest[1]}`;
  return mode === 'balanced'
    ? `${spread}; rare classes are weighed up (${optionExample('classWeights', 'none')} weighs every image alike)`
    : `${spread}; every image weighs the same (${optionExample('classWeights', 'balanced')} weighs rare classes up, which scores better where each class matters alike)`;
}
