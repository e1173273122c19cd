/**
 * The comparison that decides whether fine-tuning is kept: the default head and fine-tuning's best epoch on the same
 * held-out training images. Losses and accuracies count each image as its class's weight (where no epoch was
 * compared, `headLoss` is the head's plain mean and `bestLoss` null or the trial's own); `t` is fine-tuning's log-loss
 * difference in standard errors (kept below -2, with no lower accuracy). The accuracies and `t` are absent when no
 * fine-tuning epoch was trained or beat the head's starting point, and in records written before they were kept.
 */
export interface FineTuneHoldout {
  readonly images: number;
  readonly headLoss: number | null;
  readonly bestLoss: number | null;
  readonly headAccuracy?: number;
  readonly bestAccuracy?: number;
  readonly t?: number;
  /**
   * True where the classes' weights differed (`classWeights: 'balanced'` on unbalanced classes): the accuracies are
   * then class-weighted, not a share of the images (13/17 on 4 images read as impossible). Absent in older records.
   */
  readonly classWeighted?: boolean;
  /** The same comparison with another fifth held out, made when a class had too few images in the first. */
  readonly again?: FineTuneHoldout;
}

/**
 * "on 27 held-out training images: log-loss 0.007 against the head's 0.183, accuracy 100.0% against 97.7%" (and
 * "; again on 27 others: ..." after a second trial), or '' when the first comparison is not known.
 */
export function describeHoldout(h: FineTuneHoldout | undefined): string {
  const first = h && comparison(h, 'held-out training images');
  if (!first) return '';
  return h.again ? `${first}; again ${comparison(h.again, 'others') ?? `on ${h.again.images} others: no fine-tuning epoch beat the head`}` : first;
}

function comparison(h: FineTuneHoldout, images: string): string | undefined {
  if (h.bestLoss === null || h.headLoss === null || h.bestAccuracy === undefined || h.headAccuracy === undefined) return undefined;
  const percent = (x: number): string => `${(x * 100).toFixed(1)}%`;
  const weighted = h.classWeighted ? 'class-weighted ' : '';
  return `on ${h.images} ${images}: ${weighted}log-loss ${h.bestLoss.toFixed(3)} against the head's ${h.headLoss.toFixed(3)}, ${weighted}accuracy ${percent(h.bestAccuracy)} against ${percent(h.headAccuracy)}`;
}
