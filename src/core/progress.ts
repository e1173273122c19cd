import type { DuplicateGroup } from './duplicate-group.js';
import type { RuntimeName } from './model-format.js';
import type { CvScore } from './selection-report.js';

/**
 * Everything long-running work reports, as one typed union. Library code never writes to stdout: the CLI
 * draws these events (a bar on a TTY, a line per epoch when piped), the server streams them.
 */
export type ProgressEvent =
  | { type: 'download'; file: string; loaded: number; total: number | undefined }
  | { type: 'backbone'; name: string; engine: RuntimeName; message: string }
  | { type: 'extract-start'; total: number }
  /** `done` counts every file handled (cached, computed or skipped); `imgPerSec` counts backbone work only. */
  | { type: 'extract'; done: number; total: number; cached: number; computed: number; imgPerSec: number }
  | { type: 'skip'; file: string; reason: string }
  /** Files read and decoded to check them (`graft inspect`), skipped ones counted in `done`. */
  | { type: 'check'; done: number; total: number; filesPerSec: number }
  /** `graft download`: images fetched (`done`, of which `failed` could not be had), of `total` to fetch. */
  | { type: 'fetch'; done: number; total: number; failed: number; imagesPerSec: number }
  /** Images whose bytes appear more than once in the data (training goes on; val accuracy is inflated while they stay). */
  | { type: 'duplicates'; groups: readonly DuplicateGroup[] }
  /** `phase` is 'head' (training on frozen features, the default) or 'fine-tune' (backbone layers unfrozen). */
  | { type: 'train-start'; phase?: TrainPhase; epochs: number; trainCount: number; valCount: number }
  | { type: 'batch-end'; epoch: number; batch: number; batches: number }
  | { type: 'epoch-end'; phase?: TrainPhase; epoch: number; epochs: number; logs: EpochLogs; seconds: number }
  | { type: 'early-stop'; epoch: number; bestEpoch: number }
  /** One step of the head selection's regularisation path: every candidate at `c` scored by cross-validation. */
  | { type: 'select'; step: number; steps: number; c: number; best: CvScore }
  | { type: 'info'; message: string }
  /**
   * Something fell back to a path the caller did not ask for (e.g. tfjs's pure-JS cpu backend when wasm cannot
   * start, ~20x slower; the wasm training kernels without SIMD or native GEMM). Never silent: the CLI prints it, the
   * server streams it. `code` is stable, `message` says what happened, why and what it costs. Work goes on.
   */
  | { type: 'warning'; code: WarningCode; message: string };

/** Stable names of the fallbacks a `warning` event reports. */
export type WarningCode = 'TFJS_CPU_FALLBACK' | 'SIMD_UNAVAILABLE' | 'NATIVE_GEMM_UNAVAILABLE' | 'CROP_ROWS_SKIPPED' | 'GROUP_BY_UNMATCHED' | 'CACHED_MODEL_DAMAGED' | 'SHARD_NOT_AUTO' | 'DOWNLOAD_WAITING' | 'DOWNLOAD_RETRY' | 'CASE_ONLY_LABELS' | 'CACHE_FULL' | 'FLAG_IGNORED' | 'OUTPUT_CHANGED';

export type TrainPhase = 'head' | 'fine-tune';

/** Metrics after one epoch; validation keys are prefixed `val_` as in Keras. */
export interface EpochLogs {
  loss: number;
  acc: number;
  val_loss?: number;
  val_acc?: number;
}

export type ProgressListener = (event: ProgressEvent) => void;
