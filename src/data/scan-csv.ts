import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { GraftError } from '../core/errors.js';
import type { LabelledDataset, LabelledItem, SkippedFile } from './dataset.js';
import { streamManifest } from './manifest.js';
import { requireTwoClasses } from './scan-folder.js';

/**
 * Lists a dataset described by a manifest: a CSV of `path,label` lines (or with a header naming its path and label
 * columns) or JSON Lines of `{"path","label"}` (see {@link streamManifest}), read as a stream rather than whole.
 *
 * Paths are relative to the manifest's folder (absolute paths are kept). A listed file that does not exist is put in
 * `skipped` with reason 'file not found' rather than failing the run. Extensions are not filtered: the manifest names
 * its files on purpose, and the decoder reports any that are not images.
 *
 * @throws GraftError `INVALID_DATASET` when the manifest is missing, a line does not have the fields the header (or
 *   `path,label`) gives or has an empty label, no rows are listed, or there is only one class (unless `isLenient`).
 */
export async function scanCsv(csvPath: string, options: { readonly isLenient?: boolean } = {}): Promise<LabelledDataset> {
  const root = resolve(csvPath);
  const base = dirname(root);
  const items: LabelledItem[] = [];
  const skipped: SkippedFile[] = [];
  const labels = new Set<string>();
  for await (const entry of streamManifest(root)) {
    const file = resolve(base, entry.path);
    if (!(await isFile(file))) {
      skipped.push({ file, reason: 'file not found' });
      continue;
    }
    items.push({ file, label: entry.label });
    labels.add(entry.label);
  }
  if (items.length === 0) {
    throw new GraftError('INVALID_DATASET', `No usable rows in ${root} (${skipped.length} listed files not found)`, {
      hint: 'write one line per image: path,label (paths relative to the manifest file)',
    });
  }
  const sorted = [...labels].sort();
  if (!options.isLenient) requireTwoClasses(root, sorted);
  return { root, labels: sorted, items, skipped };
}

/** {@link scanCsv} under the name that says it also reads JSON Lines. */
export const scanManifest = scanCsv;

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** RFC 4180-style parse: quoted fields may hold commas, newlines and doubled quotes. */
export function parseCsv(text: string): { line: number; fields: string[] }[] {
  const rows: { line: number; fields: string[] }[] = [];
  let fields: string[] = [];
  let field = '';
  let inQuotes = false;
  let line = 1;
  let rowLine = 1;
  let rowHasContent = false;
  const endRow = (): void => {
    fields.push(field);
    if (rowHasContent || fields.length > 1 || field.trim() !== '') rows.push({ line: rowLine, fields });
    fields = [];
    field = '';
    rowHasContent = false;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (inQuotes) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else inQuotes = false;
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
    } else if (ch === '"') {
      inQuotes = true;
      rowHasContent = true;
    } else if (ch === ',') {
      fields.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      endRow();
      line++;
      rowLine = line;
    } else {
      field += ch;
    }
  }
  if (field !== '' || fields.length > 0 || rowHasContent) endRow();
  return rows;
}
