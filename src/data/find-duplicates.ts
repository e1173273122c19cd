import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { DatasetPart, DuplicateFile, DuplicateGroup } from '../core/duplicate-group.js';
import type { LabelledItem } from './dataset.js';

export type { DatasetPart, DuplicateFile, DuplicateGroup } from '../core/duplicate-group.js';

/** A labelled file with its content hash (undefined when it could not be read: not a duplicate of anything). */
export interface HashedItem extends DuplicateFile {
  readonly sha256: string | undefined;
}

/**
 * Groups files whose content is identical. Groups that cross train and val come first, then those with
 * conflicting labels, then the rest; files keep their input order.
 *
 * @example
 * findDuplicates(items).filter((g) => g.isAcrossSplits).length; // images both trained on and validated on
 */
export function findDuplicates(items: readonly HashedItem[]): DuplicateGroup[] {
  const byHash = new Map<string, DuplicateFile[]>();
  for (const { sha256, file, label, part } of items) {
    if (sha256 === undefined) continue;
    const list = byHash.get(sha256);
    if (list) list.push({ file, label, part });
    else byHash.set(sha256, [{ file, label, part }]);
  }
  const groups: DuplicateGroup[] = [];
  for (const [sha256, files] of byHash) {
    if (files.length < 2) continue;
    const parts = new Set(files.map((f) => f.part));
    groups.push({ sha256, files, isAcrossSplits: parts.has('train') && (parts.has('val') || parts.has('test')), hasConflictingLabels: new Set(files.map((f) => f.label)).size > 1 });
  }
  const rank = (g: DuplicateGroup): number => (g.isAcrossSplits ? 0 : g.hasConflictingLabels ? 1 : 2);
  return groups.sort((a, b) => rank(a) - rank(b));
}

/** One line per problem kind, for a warning: "3 images are in both train and val ...". */
export function describeDuplicates(groups: readonly DuplicateGroup[]): string[] {
  const across = groups.filter((g) => g.isAcrossSplits).length;
  const conflicting = groups.filter((g) => g.hasConflictingLabels).length;
  const extra = groups.reduce((n, g) => n + g.files.length - 1, 0);
  const lines = [`${groups.length} image${groups.length === 1 ? ' is' : 's are'} in the dataset more than once (the same bytes; ${extra} extra cop${extra === 1 ? 'y' : 'ies'})`];
  const heldOut = (['val', 'test'] as const).filter((part) => groups.some((g) => g.isAcrossSplits && g.files.some((f) => f.part === part))).join(' or ');
  if (across) lines.push(`${across} of them in both train and ${heldOut}: ${heldOut} then scores images the model trained on, so its accuracy is too high`);
  if (conflicting) lines.push(`${conflicting} of them under different labels`);
  return lines;
}

/**
 * sha256 of each file's bytes (hex), a few read at once; undefined for a file that cannot be read (the decoder
 * reports it).
 */
export async function hashFiles(files: readonly string[], concurrency = 4): Promise<(string | undefined)[]> {
  const hashes: (string | undefined)[] = new Array(files.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < files.length; i = next++) hashes[i] = await hashFile(files[i]!).catch(() => undefined);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));
  return hashes;
}

async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Labelled items of the named parts, ready for {@link findDuplicates} once hashed. */
export function partItems(parts: readonly { part: DatasetPart; items: readonly LabelledItem[] }[]): DuplicateFile[] {
  return parts.flatMap(({ part, items }) => items.map((item) => ({ file: item.file, label: item.label, part })));
}
