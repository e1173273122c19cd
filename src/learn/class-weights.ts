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
