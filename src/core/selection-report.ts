/**
 * What a run chose and found on its training images, as plain data: the cross-validation report and the label
 * issues that `graft.json` and `--json` record. Computed in `learn/select/`; the types are here so that `model/`
 * (the manifest) and `learn/` share them without importing each other.
 */

/**
 * Which rows a candidate trains on: the plain view of each image, or that and its mirror image; with '+crops', also
 * the image's four corner crops (of the mirror image too with '+flip'), which train but are never scored.
 */
export type TrainViews = MirrorViews | 'plain+crops' | 'plain+flip+crops';

/** The row sets without crop rows: what the cross-validation's regularisation path runs on. */
export type MirrorViews = 'plain' | 'plain+flip';

/** Whether a row set has mirror rows. */
export const hasMirrorRows = (views: TrainViews): boolean => views === 'plain+flip' || views === 'plain+flip+crops';

/** Whether a row set has crop rows. */
export const hasCropRows = (views: TrainViews): boolean => views === 'plain+crops' || views === 'plain+flip+crops';

/** One head the selection can choose. */
export interface HeadCandidate {
  readonly head: 'linear';
  readonly trainViews: TrainViews;
  /** Average the probabilities of the image and its mirror image at prediction (test-time augmentation). */
  readonly tta: boolean;
  /** Inverse L2 strength, as sklearn's C. */
  readonly c: number;
}

/** A candidate's cross-validated score: every training image predicted by the fold that did not train on it. */
export interface CvScore extends HeadCandidate {
  readonly accuracy: number;
  readonly logLoss: number;
}

/** How the best candidate is picked from the CV table. */
export type SelectionCriterion = 'log-loss' | 'accuracy';

/** The cross-validation behind a choice, as graft.json and `--json` report it. */
export interface SelectionReport {
  readonly criterion: SelectionCriterion;
  /** Folds (fewer than 5 when a class has fewer groups). */
  readonly folds: number;
  readonly grouped: boolean;
  readonly chosen: CvScore;
  readonly table: CvScore[];
  readonly seconds: number;
  /**
   * Present when the cross-validation ran on a stratified sample of the training rows (a store too large to fit in
   * memory): `rows` of `of`. The chosen head was then refitted on all `of` rows, streamed from disk.
   */
  readonly sample?: { readonly rows: number; readonly of: number };
  /**
   * Present (true) when the scores count each image as its class's weight: 'balanced' class weights on classes of
   * different sizes. CV accuracy is then the mean recall over classes, and log-loss weighs every class alike.
   */
  readonly classWeighted?: boolean;
  /**
   * Present when crop rows were cross-validated (`--crops auto` or `on`): the head chosen without them, scored again
   * the way the crop-row candidates in `table` were (every fold's run from zeros to one tolerance), the score they had
   * to beat. Its log-loss can differ from that head's entry in `table`, which comes from the regularisation path.
   */
  readonly cropRows?: { readonly baseline: CvScore };
}

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
 * Below this cross-validated accuracy the label-issue list holds many of the head's own mistakes: confident learning
 * counts a head's confusions as label noise. Measured with 5% of labels flipped on purpose (bench/RESULTS.md, "Label
 * issues"): at CV accuracy 0.90-0.92 over 90% of the list were flips; at 0.76-0.78, 31-41%.
 */
export const WEAK_HEAD_CV_ACCURACY = 0.85;

/**
 * What to tell a user next to the label issues when the head that found them is weak, or undefined when it is not
 * (or there is no CV accuracy). A class-weighted selection's accuracy is the mean recall over classes, said as such.
 */
export function labelIssuesCaveat(selection: { readonly chosen: { readonly accuracy: number }; readonly classWeighted?: boolean } | null | undefined): string | undefined {
  const accuracy = selection?.chosen.accuracy;
  if (accuracy === undefined || !(accuracy < WEAK_HEAD_CV_ACCURACY)) return undefined;
  const share = `${(accuracy * 100).toFixed(0)}%`;
  const right = selection?.classWeighted ? `${share} of each class's training images out of fold (the mean over classes)` : `${share} of the training images out of fold`;
  return `The head is right on ${right}, so some of these are its own mistakes, not wrong labels: check from the top.`;
}

/**
 * Said where a head was fitted without cross-validation (the MLP of `--hidden`; a class too small for two folds), so
 * its empty label-issue list is not read as "checked, none found".
 */
export const LABELS_NOT_CHECKED = 'not checked: no cross-validation ran for this head (the MLP of --hidden has none; nor has a class too small for two folds), so no training image was predicted by a head trained without it';
