import type { LabelIssue } from '../../core/selection-report.js';

// The type is plain data in core/ (the manifest records it); learn/ keeps its public name here.
export type { LabelIssue };

/**
 * Finds probably mislabelled images by confident learning (Northcutt, Jiang and Chuang, JAIR 2021), as cleanlab's
 * `find_label_issues(filter_by='both')`, its most precise filter:
 * 1. Each class j gets a threshold t_j: the mean out-of-fold probability of j over the images labelled j.
 * 2. The confident joint counts, for each given label i and class j, the images labelled i whose most probable class
 *    among those above their threshold is j. Calibrated so each row sums to the images labelled i, its off-diagonal
 *    cells estimate how many images labelled i are really j.
 * 3. For each such pair, that many images labelled i are candidates: those with the largest margin p_j - p_i.
 * 4. A candidate is listed only if it is also off the diagonal of the confident joint itself: its given label is below
 *    that class's threshold and its confident class is another. A weak head (low CV accuracy) would otherwise list
 *    many correct labels; this keeps the list short and right (bench/RESULTS.md: precision 0.99 on flowers12).
 * 5. As cleanlab does last, an image whose most probable class is its given label is not listed: nothing contradicts
 *    that label (a bees photo at 0.53 bees would otherwise read "looks like ants (47%)").
 * Out-of-fold probabilities matter: a head never judges an image it was trained on.
 *
 * Sorted most suspicious first (lowest probability of the given label).
 *
 * @param probabilities out-of-fold class probabilities, [images, K].
 * @param labels the given class of each image.
 */
export function findLabelIssues(probabilities: Float32Array, labels: Int32Array, classNames: readonly string[], files: readonly string[]): LabelIssue[] {
  const k = classNames.length;
  const n = labels.length;
  const p = (i: number, j: number): number => probabilities[i * k + j]!;
  const perClass = new Float64Array(k);
  const sums = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    perClass[labels[i]!]!++;
    sums[labels[i]!]! += p(i, labels[i]!);
  }
  const threshold = Array.from(sums, (s, j) => (perClass[j]! > 0 ? s / perClass[j]! : 1));
  // Confident joint: given label x confident class.
  const joint = Array.from({ length: k }, () => new Float64Array(k));
  const confidentClass = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    let confident = -1;
    for (let j = 0; j < k; j++) if (p(i, j) >= threshold[j]! && (confident < 0 || p(i, j) > p(i, confident))) confident = j;
    confidentClass[i] = confident;
    if (confident >= 0) joint[labels[i]!]![confident]!++;
  }
  const argmax = (i: number): number => {
    let best = 0;
    for (let j = 1; j < k; j++) if (p(i, j) > p(i, best)) best = j;
    return best;
  };
  const offDiagonal = (i: number): boolean => confidentClass[i]! >= 0 && confidentClass[i] !== labels[i] && p(i, labels[i]!) < threshold[labels[i]!]! && argmax(i) !== labels[i];
  const flagged = new Map<number, number>();
  for (let given = 0; given < k; given++) {
    const row = joint[given]!;
    const rowSum = row.reduce((a, b) => a + b, 0);
    if (rowSum === 0) continue;
    for (let truth = 0; truth < k; truth++) {
      if (truth === given) continue;
      const count = Math.round((row[truth]! / rowSum) * perClass[given]!);
      if (count === 0) continue;
      const candidates: number[] = [];
      for (let i = 0; i < n; i++) if (labels[i] === given && !flagged.has(i)) candidates.push(i);
      candidates.sort((a, b) => p(b, truth) - p(b, given) - (p(a, truth) - p(a, given)));
      for (const i of candidates.slice(0, count)) flagged.set(i, truth);
    }
  }
  const issues: LabelIssue[] = [...flagged.keys()].filter(offDiagonal).map((i) => {
    // Report the most probable other class (the pair that flagged it is one estimate of it).
    let predicted = -1;
    for (let j = 0; j < k; j++) if (j !== labels[i] && (predicted < 0 || p(i, j) > p(i, predicted))) predicted = j;
    return { file: files[i]!, given: classNames[labels[i]!]!, predicted: classNames[predicted]!, confidence: p(i, predicted), givenProbability: p(i, labels[i]!) };
  });
  return issues.sort((a, b) => a.givenProbability - b.givenProbability);
}
