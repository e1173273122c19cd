/**
 * Which part of a dataset a file is in: its training, validation or test part, or the whole (an unsplit folder).
 * `test` is a split set's `test/` beside a `val/` or `valid/` that training validates on.
 */
export type DatasetPart = 'train' | 'val' | 'test' | 'all';

/** One file of a set of identical images. */
export interface DuplicateFile {
  readonly file: string;
  readonly label: string;
  readonly part: DatasetPart;
}

/**
 * Files with exactly the same bytes (the same sha256). Declared here, not in data/, because a progress event
 * carries it and events are part of the floor every module reports through.
 */
export interface DuplicateGroup {
  readonly sha256: string;
  readonly files: readonly DuplicateFile[];
  /** In both the training part and a held-out one (val or test): it then scores images the model trained on. */
  readonly isAcrossSplits: boolean;
  /** Under different labels: the same image is taught as two classes. */
  readonly hasConflictingLabels: boolean;
}
