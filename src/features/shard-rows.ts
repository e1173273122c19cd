import { compareUtf8 } from '../core/compare-utf8.js';
import { GraftError } from '../core/errors.js';
import { checkBlockSize, DEFAULT_ROWS_PER_BLOCK, type FeatureBlock, type FeatureRows } from './feature-rows.js';
import type { ShardSet } from './shard-set.js';
import type { ShardPart } from './shard-store.js';
import { decodeF32Into } from './vector-encoding.js';

/** Which rows of a store a {@link ShardRows} reads. */
export interface ShardRowSelection {
  /** Only this part (0: train or everything, 1: the dataset's val folder). Defaults to both. */
  readonly part?: ShardPart;
  /** Paths to leave out (e.g. the validation rows of a split made at training time). */
  readonly exclude?: ReadonlySet<string>;
  /** Only these paths. */
  readonly only?: ReadonlySet<string>;
}

/** Where a row came from, for reports (mistakes, exports). */
export interface RowFile {
  /** Relative to the dataset root (see ShardMeta.dataset.root), or absolute. */
  readonly path: string;
  /** sha256 of the image file's bytes. */
  readonly sha256: string;
  /** 0: train (or the whole of a store without a val part); 1: the dataset's val folder. */
  readonly part: ShardPart;
}

/** A block with the identity of each row, from {@link ShardRows.blocksWithFiles}. */
export interface FeatureBlockWithFiles extends FeatureBlock {
  readonly files: readonly RowFile[];
}

interface StoredRow {
  part: number;
  label: string;
  path: string;
  sha256: string;
  vector: Buffer;
}

/**
 * The rows of a set of shard stores as {@link FeatureRows}, read from disk on every pass: memory is one block plus one
 * cursor per shard, whatever the number of rows.
 *
 * Rows come in one global order: part (train before val), then label, then path, as the single-process `graft train`
 * reads a class-folder dataset; so a model trained from shards equals one trained from the folder. Each shard is read
 * in that order through its index and the shards are merged (a k-way merge, comparing text as UTF-8 bytes like SQLite).
 */
export class ShardRows implements FeatureRows {
  readonly count: number;
  readonly dim: number;
  readonly labels: readonly string[];
  private readonly set: ShardSet;
  private readonly selection: ShardRowSelection;
  private readonly labelIds: Map<string, number>;

  constructor(set: ShardSet, selection: ShardRowSelection = {}) {
    this.set = set;
    this.selection = selection;
    this.dim = set.meta.model.featureDim;
    this.labels = set.meta.dataset.labels;
    this.labelIds = new Map(this.labels.map((label, i) => [label, i]));
    this.count = this.countSelected();
  }

  forEachBlock(visit: (block: FeatureBlock) => void, rowsPerBlock: number = DEFAULT_ROWS_PER_BLOCK): void {
    checkBlockSize(rowsPerBlock);
    const size = Math.min(rowsPerBlock, Math.max(this.count, 1));
    const data = new Float32Array(size * this.dim);
    const labels = new Int32Array(size);
    const paths: string[] = new Array<string>(size);
    let start = 0;
    let n = 0;
    const emit = (): void => {
      const full = n === size;
      visit({ data: full ? data : data.subarray(0, n * this.dim), labels: full ? labels : labels.subarray(0, n), start, count: n, paths: full ? paths : paths.slice(0, n) });
      start += n;
      n = 0;
    };
    this.forEachStored((row) => {
      this.checkWidth(row);
      decodeF32Into(row.vector, data, n * this.dim);
      labels[n] = this.labelIds.get(row.label)!;
      paths[n] = row.path;
      n++;
      if (n === size) emit();
    });
    if (n > 0) emit();
  }

  /** Visits each row's file identity, in the same order as {@link forEachBlock}'s rows. */
  forEachFile(visit: (file: RowFile, row: number) => void): void {
    let row = 0;
    this.forEachStored((stored) => visit({ path: stored.path, sha256: stored.sha256, part: stored.part as ShardPart }, row++));
  }

  /**
   * The same blocks as {@link forEachBlock}, with each row's file, pulled one at a time (for writers that are streams).
   * Each block is a fresh copy the caller may keep. Stopping early (`return()`, or `break` in for..of) closes the cursors.
   */
  *blocksWithFiles(rowsPerBlock: number = DEFAULT_ROWS_PER_BLOCK): Generator<FeatureBlockWithFiles, void, undefined> {
    checkBlockSize(rowsPerBlock);
    let start = 0;
    let data = new Float32Array(rowsPerBlock * this.dim);
    let labels = new Int32Array(rowsPerBlock);
    let files: RowFile[] = [];
    for (const row of this.storedRows()) {
      this.checkWidth(row);
      decodeF32Into(row.vector, data, files.length * this.dim);
      labels[files.length] = this.labelIds.get(row.label)!;
      files.push({ path: row.path, sha256: row.sha256, part: row.part as ShardPart });
      if (files.length === rowsPerBlock) {
        yield { data, labels, start, count: files.length, files };
        start += files.length;
        data = new Float32Array(rowsPerBlock * this.dim);
        labels = new Int32Array(rowsPerBlock);
        files = [];
      }
    }
    if (files.length > 0) yield { data: data.slice(0, files.length * this.dim), labels: labels.slice(0, files.length), start, count: files.length, files };
  }

  private checkWidth(row: StoredRow): void {
    if (row.vector.length !== this.dim * 4) {
      throw new GraftError('INVALID_DATASET', `The vector of ${row.path} in ${this.set.dir} has ${row.vector.length / 4} floats, not ${this.dim}.`, {
        hint: 'the shard is damaged: delete it and run its graft embed --shard again',
      });
    }
  }

  private countSelected(): number {
    const { part, exclude, only } = this.selection;
    if (!exclude && !only) return this.set.stores.reduce((sum, store) => sum + store.countRows(part), 0);
    let n = 0;
    this.forEachStored(() => n++);
    return n;
  }

  private forEachStored(visit: (row: StoredRow) => void): void {
    for (const row of this.storedRows()) visit(row);
  }

  /** The k-way merge: every shard's cursor in order, the smallest head first; closing the generator closes the cursors. */
  private *storedRows(): Generator<StoredRow, void, undefined> {
    const { part, exclude, only } = this.selection;
    const cursors = this.set.stores.map((store) => store.iterateOrdered(part));
    try {
      const heads: (StoredRow | undefined)[] = cursors.map((c) => next(c));
      for (;;) {
        let best = -1;
        for (let i = 0; i < heads.length; i++) {
          const head = heads[i];
          if (head && (best < 0 || compareRows(head, heads[best]!) < 0)) best = i;
        }
        if (best < 0) return;
        const row = heads[best]!;
        heads[best] = next(cursors[best]!);
        if (exclude?.has(row.path) || (only && !only.has(row.path))) continue;
        if (!this.labelIds.has(row.label)) {
          throw new GraftError('INVALID_DATASET', `Row ${row.path} in ${this.set.dir} has label "${row.label}", which is not one of the store's classes.`, {
            hint: 'the store is inconsistent: rerun its shards',
          });
        }
        yield row;
      }
    } finally {
      for (const cursor of cursors) cursor.return?.();
    }
  }
}

function next(cursor: IterableIterator<StoredRow>): StoredRow | undefined {
  const r = cursor.next();
  return r.done ? undefined : r.value;
}

function compareRows(a: StoredRow, b: StoredRow): number {
  return a.part - b.part || compareUtf8(a.label, b.label) || compareUtf8(a.path, b.path);
}

export { compareUtf8 };
