import { resolve } from 'node:path';
import { GraftError } from '../core/errors.js';
import { CsvParser } from './csv-parser.js';
import type { LabelledDataset, LabelledItem, SkippedFile } from './dataset.js';
import { isImageUrl } from './fetch-image.js';
import { streamManifestFiles, whyNotAFile } from './manifest-files.js';
import { manifestPartCounts, type ManifestEntry, type ManifestPart } from './manifest.js';
import { requireDistinctLabels, requireTwoClasses } from './scan-folder.js';

/**
 * Lists a dataset described by a manifest: a CSV of `path,label` lines (or with a header naming its path and label
 * columns) or JSON Lines of `{"path","label"}` (see {@link streamManifest}), read as a stream rather than whole.
 *
 * Paths are relative to the manifest's folder, or to the one sub-folder of it holding the first row's image, with an
 * extension added to names without one (absolute paths are kept; see {@link streamManifestFiles}). A listed file that
 * does not exist is put in `skipped` with reason 'file not found' rather than failing the run. Extensions are not
 * filtered: the manifest names its files on purpose, and the decoder reports any that are not images.
 *
 * A manifest with a split column (train, valid, test: see {@link streamManifest}) lists the rows of one part: the first
 * of `parts` that has any (none: nothing is listed). Without `parts`, or without a split column, every row is.
 *
 * @throws GraftError `INVALID_DATASET` when the manifest is missing, a line does not have the fields the header (or
 *   `path,label`) gives or has an empty label or an unknown split, some rows of a JSON Lines file have a split and
 *   others none, no rows are listed, or there is only one class (unless `isLenient`).
 */
export async function scanCsv(csvPath: string, options: { readonly isLenient?: boolean; readonly parts?: readonly ManifestPart[] } = {}): Promise<LabelledDataset> {
  const root = resolve(csvPath);
  // One pass, each row into its part's bucket ('all' without a split column), so a long list is read once.
  const buckets = new Map<ManifestPart | 'all', { items: LabelledItem[]; skipped: SkippedFile[] }>();
  const counts: Record<ManifestPart, number> = { train: 0, val: 0, test: 0 };
  let unsplit: ManifestEntry | undefined;
  for await (const entry of streamManifestFiles(root)) {
    if (entry.part === undefined) unsplit ??= entry;
    else counts[entry.part]++;
    const key = entry.part ?? 'all';
    const bucket = buckets.get(key) ?? { items: [], skipped: [] };
    buckets.set(key, bucket);
    const missing = await whyNotAFile(entry.file);
    if (missing === undefined) bucket.items.push({ file: entry.file, label: entry.label });
    else bucket.skipped.push({ file: entry.file, reason: missing });
  }
  const isSplit = counts.train + counts.val + counts.test > 0;
  if (isSplit && unsplit) {
    throw new GraftError('INVALID_DATASET', `Line ${unsplit.line} of ${root} has no split, and other lines do`, {
      hint: 'give every line a split (train, valid or test), or none',
    });
  }
  const part = isSplit && options.parts ? options.parts.find((p) => counts[p] > 0) : undefined;
  const chosen = isSplit && options.parts ? [part] : [...buckets.keys()];
  const items = chosen.flatMap((key) => (key === undefined ? [] : buckets.get(key)?.items ?? []));
  const skipped = chosen.flatMap((key) => (key === undefined ? [] : buckets.get(key)?.skipped ?? []));
  const split = isSplit ? { split: { counts, part } } : {};
  if (items.length === 0) {
    if (isSplit && options.parts && part === undefined) {
      if (options.isLenient) return { root, labels: [], items, skipped, ...split };
      throw new GraftError('INVALID_DATASET', `${root} has no ${options.parts.join(' or ')} rows in its split column (${describeCounts(counts)})`, {
        hint: 'mark the rows to use as such in the split column, or drop the column to use every row',
      });
    }
    // A list of web addresses (a labelling tool's export): the next step is a command, said with this manifest's path.
    const urls = skipped.length > 0 && skipped.every((s) => isImageUrl(s.file));
    const what = urls ? `images are URLs, such as ${skipped[0]!.file}` : `files cannot be read${skipped[0] ? `, such as ${skipped[0].file}: ${skipped[0].reason}` : ''}`;
    throw new GraftError('INVALID_DATASET', `No usable ${part ? `${part} ` : ''}rows in ${root} (${skipped.length} listed ${what})`, {
      hint: urls
        ? `fetch them first: graft download ${root} --out <folder>, then train on <folder>/manifest.csv`
        : "write one line per image: path,label. Paths are read relative to the manifest's folder, or to the one sub-folder of it (train_images/, say) that holds the first row's image; a name without an extension is looked up with .jpg, .png and the other image extensions",
    });
  }
  const sorted = [...new Set(items.map((item) => item.label))].sort();
  if (!options.isLenient) {
    requireTwoClasses(root, sorted);
    requireDistinctLabels(root, sorted);
  }
  return { root, labels: sorted, items, skipped, ...split };
}

/**
 * Whether a manifest has test rows in its split column that training did not score (it validated on the val rows, on
 * other data, or on none): the untouched images `graft eval <model> <manifest>` scores.
 * @param data where training's validation images came from (`TrainResult.data`).
 */
export async function hasUnusedTestRows(manifest: string, data: { readonly val: string | null; readonly valPart?: ManifestPart }): Promise<boolean> {
  if (data.valPart === 'test' && data.val !== null && resolve(data.val) === resolve(manifest)) return false;
  return ((await manifestPartCounts(resolve(manifest)))?.test ?? 0) > 0;
}

/** "120 train, 30 val, 0 test rows". */
export function describeCounts(counts: Readonly<Record<ManifestPart, number>>): string {
  return `${counts.train} train, ${counts.val} val, ${counts.test} test rows`;
}

/** {@link scanCsv} under the name that says it also reads JSON Lines. */
export const scanManifest = scanCsv;

/**
 * RFC 4180-style parse of a whole text: quoted fields may hold commas, newlines and doubled quotes.
 * @throws UnclosedQuoteError when a quoted field is never closed.
 */
export function parseCsv(text: string): { line: number; fields: string[] }[] {
  const parser = new CsvParser();
  return [...parser.push(text), ...parser.end()];
}
