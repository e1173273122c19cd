import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { makePreprocessing } from '../core/preprocessing.js';
import type { SkippedFile } from './dataset.js';
import { readAndDecode } from './decode-stream.js';
import type { ClassSummary, PartSummary } from './dataset-summary.js';
import { streamManifest } from './manifest.js';

/** Problem files kept as examples in a summary; the totals count all of them. */
export const MAX_LISTED_PROBLEMS = 100;
/** Entries checked at once (stat, and decode when asked): bounds memory whatever the manifest's length. */
const CHUNK = 512;

/**
 * Summarises a manifest (CSV or JSON Lines) as one streamed pass: per-class counts, files that do not exist, and (with
 * `checkDecode`) files that do not decode. Memory is one chunk of entries plus one counter per class and at most
 * {@link MAX_LISTED_PROBLEMS} example files of each kind, so a manifest of millions of lines is fine (tested at 1M rows).
 * A path listed twice is counted twice.
 */
export async function inspectManifest(
  file: string,
  options: { readonly checkDecode: boolean; readonly concurrency?: number; readonly onProgress?: (done: number, total: number) => void },
): Promise<PartSummary> {
  const root = resolve(file);
  const base = dirname(root);
  const counts = new Map<string, { count: number; readable: number }>();
  const skipped: SkippedFile[] = [];
  const unreadable: SkippedFile[] = [];
  let skippedCount = 0;
  let unreadableCount = 0;
  let imageCount = 0;
  let done = 0;
  const pre = makePreprocessing({ inputSize: 32, scale: '0..1', layout: 'nhwc' });

  const check = async (chunk: { file: string; label: string }[]): Promise<void> => {
    const exists = await Promise.all(chunk.map(async ({ file: f }) => (await stat(f).catch(() => undefined))?.isFile() === true));
    const present = chunk.filter((_, i) => exists[i]);
    chunk.forEach((entry, i) => {
      if (exists[i]) return;
      skippedCount++;
      if (skipped.length < MAX_LISTED_PROBLEMS) skipped.push({ file: entry.file, reason: 'file not found' });
    });
    const bad = new Set<number>();
    if (options.checkDecode && present.length > 0) {
      const decoding = readAndDecode(present.map((p) => p.file), pre, {
        concurrency: options.concurrency ?? 4,
        onSkip: ({ index, file: f, reason }) => {
          bad.add(index);
          unreadableCount++;
          if (unreadable.length < MAX_LISTED_PROBLEMS) unreadable.push({ file: f, reason });
        },
      });
      for await (const item of decoding) void item;
    }
    present.forEach((entry, i) => {
      const c = counts.get(entry.label) ?? { count: 0, readable: 0 };
      c.count++;
      if (!bad.has(i)) c.readable++;
      counts.set(entry.label, c);
      imageCount++;
    });
    done += chunk.length;
    options.onProgress?.(done, done);
  };

  let chunk: { file: string; label: string }[] = [];
  for await (const entry of streamManifest(root)) {
    chunk.push({ file: resolve(base, entry.path), label: entry.label });
    if (chunk.length >= CHUNK) {
      await check(chunk);
      chunk = [];
    }
  }
  await check(chunk);
  const labels = [...counts.keys()].sort();
  const classes: ClassSummary[] = labels.map((label) => ({ label, count: counts.get(label)!.count, readable: options.checkDecode ? counts.get(label)!.readable : undefined }));
  return { name: 'all', root, labels, classes, imageCount, skipped, unreadable, skippedCount, unreadableCount };
}
