/** A training image whose given label the cross-validated head confidently contradicts. */
export interface LabelIssue {
  readonly file: string;
  readonly given: string;
  readonly predicted: string;
  /** Out-of-fold probability of `predicted`. */
  readonly confidence: number;
  /** Out-of-fold probability of `given`. */
  readonly givenProbability: number;
}

/**
 * Finds probably mislabelled images by confident learning (Northcutt, Jiang and Chuang, JAIR 2021), as cleanlab's
 * `find_label_issues(filter_by='prune_by_noise_rate')`, its default:
 * 1. Each class j gets a threshold t_j: the mean out-of-fold probability of j over the images labelled j.
 * 2. The confident joint counts, for each given label i and class j, the images labelled i whose most probable class
 *    among those above their threshold is j. Calibrated so each row sums to the images labelled i, its off-diagonal
 *    cells estimate how many images labelled i are really j.
 * 3. For each such pair, that many images labelled i are flagged: those with the largest margin p_j - p_i.
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
  for (let i = 0; i < n; i++) {
    let confident = -1;
    for (let j = 0; j < k; j++) if (p(i, j) >= threshold[j]! && (confident < 0 || p(i, j) > p(i, confident))) confident = j;
    if (confident >= 0) joint[labels[i]!]![confident]!++;
  }
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
  const issues: LabelIssue[] = [...flagged.keys()].map((i) => {
    // Report the most probable other class (the pair that flagged it is one estimate of it).
    let predicted = -1;
    for (let j = 0; j < k; j++) if (j !== labels[i] && (predicted < 0 || p(i, j) > p(i, predicted))) predicted = j;
    return { file: files[i]!, given: classNames[labels[i]!]!, predicted: classNames[predicted]!, confidence: p(i, predicted), givenProbability: p(i, labels[i]!) };
  });
  return issues.sort((a, b) => a.givenProbability - b.givenProbability);
}
