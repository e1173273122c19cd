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
 * Finds probably mislabelled images by confident learning (Northcutt et al. 2021, as cleanlab's
 * `find_label_issues(filter_by='confident_learning')`): each class j gets a threshold t_j, the mean out-of-fold
 * probability of j over the images labelled j (how sure the model is on its own class). An image is *confidently*
 * of class j when p_j >= t_j; where that most probable confident class differs from the given label, and the given
 * label is itself below its class's threshold, the label is listed as an issue. Out-of-fold probabilities matter:
 * a head never judges an image it was trained on.
 *
 * Sorted most suspicious first (lowest probability of the given label).
 *
 * @param probabilities out-of-fold class probabilities, [images, K].
 * @param labels the given class of each image.
 */
export function findLabelIssues(probabilities: Float32Array, labels: Int32Array, classNames: readonly string[], files: readonly string[]): LabelIssue[] {
  const k = classNames.length;
  const n = labels.length;
  const sums = new Float64Array(k);
  const counts = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    sums[labels[i]!]! += probabilities[i * k + labels[i]!]!;
    counts[labels[i]!]!++;
  }
  const threshold = Array.from(sums, (s, j) => (counts[j]! > 0 ? s / counts[j]! : 1));
  const issues: LabelIssue[] = [];
  for (let i = 0; i < n; i++) {
    const given = labels[i]!;
    const pGiven = probabilities[i * k + given]!;
    if (pGiven >= threshold[given]!) continue;
    let confident = -1;
    for (let j = 0; j < k; j++) {
      const p = probabilities[i * k + j]!;
      if (p >= threshold[j]! && (confident < 0 || p > probabilities[i * k + confident]!)) confident = j;
    }
    if (confident < 0 || confident === given) continue;
    issues.push({ file: files[i]!, given: classNames[given]!, predicted: classNames[confident]!, confidence: probabilities[i * k + confident]!, givenProbability: pGiven });
  }
  return issues.sort((a, b) => a.givenProbability - b.givenProbability);
}
