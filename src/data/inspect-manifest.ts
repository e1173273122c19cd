import { resolve } from 'node:path';
import { makePreprocessing } from '../core/preprocessing.js';
import type { SkippedFile } from './dataset.js';
import { readAndDecode } from './decode-stream.js';
import type { ClassSummary, PartSummary } from './dataset-summary.js';
import { isImageUrl } from './fetch-image.js';
import { streamManifestFiles, whyNotAFile } from './manifest-files.js';

/** Problem files kept as examples in a summary; the totals count all of them. */
export const MAX_LISTED_PROBLEMS = 100;
/** Entries checked at once (stat, and decode when asked): bounds memory whatever the manifest's length. */
const CHUNK = 512;

/** What one part of a manifest (or the whole of an unsplit one) has been found to hold so far. */
class PartTally {
  readonly counts = new Map<string, { count: number; readable: number }>();
  readonly skipped: SkippedFile[] = [];
  readonly unreadable: SkippedFile[] = [];
  skippedCount = 0;
  unreadableCount = 0;
  urlCount = 0;
  imageCount = 0;

  constructor(readonly name: PartSummary['name']) {}

  missing(file: string, label: string, reason: string): void {
    // The class is listed even when none of its files is there: what a user needs to see is that it lost them all.
    if (!this.counts.has(label)) this.counts.set(label, { count: 0, readable: 0 });
    this.skippedCount++;
    if (isImageUrl(file)) this.urlCount++;
    if (this.skipped.length < MAX_LISTED_PROBLEMS) this.skipped.push({ file, reason });
  }

  undecodable(file: string, reason: string): void {
    this.unreadableCount++;
    if (this.unreadable.length < MAX_LISTED_PROBLEMS) this.unreadable.push({ file, reason });
  }

  present(label: string, isReadable: boolean): void {
    const c = this.counts.get(label) ?? { count: 0, readable: 0 };
    c.count++;
    if (isReadable) c.readable++;
    this.counts.set(label, c);
    this.imageCount++;
  }

  summary(root: string, checkDecode: boolean): PartSummary {
    const labels = [...this.counts.keys()].sort();
    const classes: ClassSummary[] = labels.map((label) => ({ label, count: this.counts.get(label)!.count, readable: checkDecode ? this.counts.get(label)!.readable : undefined }));
    const { name, imageCount, skipped, unreadable, skippedCount, unreadableCount, urlCount } = this;
    return { name, root, labels, classes, imageCount, skipped, unreadable, skippedCount, unreadableCount, urlCount };
  }
}

interface Entry {
  readonly file: string;
  readonly label: string;
  readonly tally: PartTally;
}

/**
 * Summarises a manifest (CSV or JSON Lines) as one streamed pass: per-class counts, files that do not exist, and (with
 * `checkDecode`) files that do not decode; one summary per part (train, val, test, in that order) when the manifest
 * has a split column, else one named 'all'. Memory is one chunk of entries plus one counter per class and at most
 * {@link MAX_LISTED_PROBLEMS} example files of each kind per part, so a manifest of millions of lines is fine (tested
 * at 1M rows). A path listed twice is counted twice.
 */
export async function inspectManifest(
  file: string,
  options: { readonly checkDecode: boolean; readonly concurrency?: number; readonly onProgress?: (done: number, total: number) => void },
): Promise<PartSummary[]> {
  const root = resolve(file);
  const tallies = new Map<PartSummary['name'], PartTally>();
  const tallyOf = (name: PartSummary['name']): PartTally => tallies.get(name) ?? tallies.set(name, new PartTally(name)).get(name)!;
  let done = 0;
  const pre = makePreprocessing({ inputSize: 32, scale: '0..1', layout: 'nhwc' });

  const check = async (chunk: Entry[]): Promise<void> => {
    const problems = await Promise.all(chunk.map(({ file: f }) => whyNotAFile(f)));
    const present = chunk.filter((_, i) => problems[i] === undefined);
    chunk.forEach((entry, i) => {
      const problem = problems[i];
      if (problem !== undefined) entry.tally.missing(entry.file, entry.label, problem);
    });
    const bad = new Set<number>();
    if (options.checkDecode && present.length > 0) {
      const decoding = readAndDecode(present.map((p) => p.file), pre, {
        concurrency: options.concurrency ?? 4,
        onSkip: ({ index, file: f, reason }) => {
          bad.add(index);
          present[index]!.tally.undecodable(f, reason);
        },
      });
      for await (const item of decoding) void item;
    }
    present.forEach((entry, i) => entry.tally.present(entry.label, !bad.has(i)));
    done += chunk.length;
    options.onProgress?.(done, done);
  };

  let chunk: Entry[] = [];
  for await (const entry of streamManifestFiles(root)) {
    chunk.push({ file: entry.file, label: entry.label, tally: tallyOf(entry.part ?? 'all') });
    if (chunk.length >= CHUNK) {
      await check(chunk);
      chunk = [];
    }
  }
  await check(chunk);
  const order: PartSummary['name'][] = ['all', 'train', 'val', 'test'];
  const found = order.filter((name) => tallies.has(name));
  return (found.length ? found : ['all' as const]).map((name) => tallyOf(name).summary(root, options.checkDecode));
}
