/**
 * The comparison that decides whether fine-tuning is kept, in two steps on the same held-out training images. First
 * an epoch must beat `startingHeadLoss`, the head fine-tuning started from (epoch 0: a head on the one scale the
 * network is fine-tuned at); then the best epoch is compared with the default head (`headLoss`, which may read two
 * scales). Losses and accuracies count each image as its class's weight (records written before `startingHeadLoss`
 * was kept have the head's plain mean as `headLoss` where no epoch was compared); `t` is fine-tuning's log-loss
 * difference in standard errors (kept below -2, with no lower accuracy). The accuracies and `t` are absent when no
 * fine-tuning epoch was trained or beat the starting head, and in records written before they were kept.
 */
export interface FineTuneHoldout {
  readonly images: number;
  readonly headLoss: number | null;
  /**
   * The starting head's log-loss there (epoch 0, weighted as the epochs' val_loss), which an epoch must beat to be
   * compared at all. Null where it was not scored (no epoch run); absent in records written before it was kept.
   */
  readonly startingHeadLoss?: number | null;
  /** The best fine-tuning epoch's log-loss there; null when none beat the starting head. */
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
 * "; again on 27 others: ..." after a second trial); where no epoch beat the starting head, "on 6 held-out training
 * images: no fine-tuning epoch beat the log-loss 0.2535 of epoch 0, the one-scale head it started from ..."; '' when
 * the first comparison is not known.
 */
export function describeHoldout(h: FineTuneHoldout | undefined): string {
  const first = h && comparison(h, 'held-out training images');
  if (!first) return '';
  return h.again ? `${first}; again ${comparison(h.again, 'others') ?? `on ${h.again.images} others: no fine-tuning epoch beat the head`}` : first;
}

function comparison(h: FineTuneHoldout, images: string): string | undefined {
  if (h.bestLoss === null && typeof h.startingHeadLoss === 'number') return `on ${h.images} ${images}: ${noEpochBeat(h)}`;
  if (h.bestLoss === null || h.headLoss === null || h.bestAccuracy === undefined || h.headAccuracy === undefined) return undefined;
  const percent = (x: number): string => `${(x * 100).toFixed(1)}%`;
  const weighted = h.classWeighted ? 'class-weighted ' : '';
  return `on ${h.images} ${images}: ${weighted}log-loss ${h.bestLoss.toFixed(3)} against the head's ${h.headLoss.toFixed(3)}, ${weighted}accuracy ${percent(h.bestAccuracy)} against ${percent(h.headAccuracy)}`;
}

/**
 * Why no epoch was compared with the head alone: none beat the head fine-tuning started from, whose loss (not the
 * head alone's, which may read two scales and so differ) is the bar. 4 decimals, as the epochs' val_loss is printed.
 */
export function noEpochBeat(h: FineTuneHoldout): string {
  const weighted = h.classWeighted ? 'class-weighted ' : '';
  const head = h.headLoss === null ? '' : ` (the head alone's: ${h.headLoss.toFixed(4)})`;
  return `no fine-tuning epoch beat the ${weighted}log-loss ${h.startingHeadLoss?.toFixed(4) ?? 'n/a'} of epoch 0, the one-scale head it started from${head}`;
}
