import { readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { GraftError } from '../errors.js';
import type { LabelledDataset, LabelledItem, SkippedFile } from './dataset.js';
import { requireTwoClasses } from './scan-folder.js';

/**
 * Lists a dataset described by a CSV file of `path,label` lines.
 *
 * An optional header row `path,label` is recognised. Paths are relative to the CSV file's folder
 * (absolute paths are kept). Fields may be double-quoted, so paths and labels may contain commas
 * (`"a, b.jpg",cat`; a doubled quote inside quotes is a quote). Blank lines are ignored. A listed file
 * that does not exist is put in `skipped` with reason 'file not found' rather than failing the run.
 * Extensions are not filtered: the CSV names its files on purpose, and the decoder reports any that
 * are not images.
 *
 * @throws GraftError `INVALID_DATASET` when the CSV is missing, a line does not have exactly two fields
 *   or has an empty label, no rows are listed, or there is only one class.
 */
export async function scanCsv(csvPath: string): Promise<LabelledDataset> {
  const root = resolve(csvPath);
  let text: string;
  try {
    text = await readFile(root, 'utf8');
  } catch (error) {
    throw new GraftError('INVALID_DATASET', `CSV file not found: ${root}`, {
      hint: 'check the path; the CSV should have lines of path,label',
      cause: error,
    });
  }
  const base = dirname(root);
  const rows = parseCsv(text.replace(/^\uFEFF/, ''));
  const items: LabelledItem[] = [];
  const skipped: SkippedFile[] = [];
  const labels = new Set<string>();
  for (const [index, row] of rows.entries()) {
    const { line, fields } = row;
    if (index === 0 && fields.length === 2 && fields[0]!.trim().toLowerCase() === 'path' && fields[1]!.trim().toLowerCase() === 'label') {
      continue;
    }
    if (fields.length !== 2 || fields[0]!.trim() === '' || fields[1]!.trim() === '') {
      throw new GraftError('INVALID_DATASET', `Line ${line} of ${root} is not "path,label". Received: ${JSON.stringify(fields)}`, {
        hint: 'each line must be a file path and a class name separated by a comma; quote fields that contain commas',
      });
    }
    const file = resolve(base, fields[0]!.trim());
    const label = fields[1]!.trim();
    if (!(await isFile(file))) {
      skipped.push({ file, reason: 'file not found' });
      continue;
    }
    items.push({ file, label });
    labels.add(label);
  }
  if (items.length === 0) {
    throw new GraftError('INVALID_DATASET', `No usable rows in ${root} (${skipped.length} listed files not found)`, {
      hint: 'write one line per image: path,label (paths relative to the CSV file)',
    });
  }
  const sorted = [...labels].sort();
  requireTwoClasses(root, sorted);
  return { root, labels: sorted, items, skipped };
}

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
