import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { GraftError } from '../core/errors.js';

/** File extensions read as manifests of `path,label` (anything else is a folder). */
export const MANIFEST_EXTENSIONS: readonly string[] = ['.csv', '.jsonl', '.ndjson'];

/** Whether `path` names a manifest (by extension, case-insensitive) rather than a folder. */
export function isManifestPath(path: string): boolean {
  const lower = path.toLowerCase();
  return MANIFEST_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

/** One entry of a manifest, as written: the path is not resolved or checked here. */
export interface ManifestEntry {
  /** 1-based line where the entry starts. */
  readonly line: number;
  readonly path: string;
  readonly label: string;
}

/**
 * Streams the entries of a manifest without reading it whole, so a million-line list costs the memory of one chunk:
 * a CSV of `path,label` lines (optional header `path,label`; RFC 4180 quoting, so a quoted field may hold commas,
 * quotes and newlines) or JSON Lines of `{"path": ..., "label": ...}` (other keys are ignored). Blank lines are skipped.
 *
 * @throws GraftError `INVALID_DATASET` naming the file and line when the manifest is missing or a line is malformed.
 * @example
 * for await (const { path, label } of streamManifest('photos.csv')) counts.set(label, (counts.get(label) ?? 0) + 1);
 */
export async function* streamManifest(file: string): AsyncGenerator<ManifestEntry, void, undefined> {
  try {
    if (!(await stat(file)).isFile()) throw new Error('not a file');
  } catch (cause) {
    throw new GraftError('INVALID_DATASET', `${file.toLowerCase().endsWith('.csv') ? 'CSV file' : 'Manifest'} not found: ${file}`, {
      hint: 'check the path; a manifest is a .csv of path,label lines or a .jsonl of {"path","label"} objects',
      cause,
    });
  }
  const isJsonl = !file.toLowerCase().endsWith('.csv');
  const records = isJsonl ? jsonlRecords(file) : csvRecords(file);
  let isFirst = true;
  for await (const { line, fields } of records) {
    if (isFirst) {
      isFirst = false;
      if (!isJsonl && fields.length === 2 && fields[0]!.trim().toLowerCase() === 'path' && fields[1]!.trim().toLowerCase() === 'label') continue;
    }
    if (fields.length !== 2 || fields[0]!.trim() === '' || fields[1]!.trim() === '') {
      throw new GraftError('INVALID_DATASET', `Line ${line} of ${file} is not "path,label". Received: ${JSON.stringify(fields)}`, {
        hint: isJsonl
          ? 'each line must be a JSON object with string "path" and "label"'
          : 'each line must be a file path and a class name separated by a comma; quote fields that contain commas',
      });
    }
    yield { line, path: fields[0]!.trim(), label: fields[1]!.trim() };
  }
}

async function* jsonlRecords(file: string): AsyncGenerator<{ line: number; fields: string[] }> {
  let line = 0;
  for await (const text of lines(file)) {
    line++;
    if (text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (cause) {
      throw new GraftError('INVALID_DATASET', `Line ${line} of ${file} is not JSON: ${(cause as Error).message}`, {
        hint: 'a .jsonl manifest has one JSON object per line: {"path": "cats/1.jpg", "label": "cat"}',
      });
    }
    const record = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
    const fields = [record.path, record.label].map((v) => (typeof v === 'string' ? v : ''));
    yield { line, fields };
  }
}

/** Lines of a UTF-8 file (without their line breaks), read in chunks; a leading BOM is dropped. */
async function* lines(file: string): AsyncGenerator<string> {
  let rest = '';
  let isStart = true;
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 16 })) {
    let text = rest + (chunk as string);
    if (isStart) {
      text = text.replace(/^\uFEFF/, '');
      isStart = false;
    }
    let start = 0;
    for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n', start)) {
      yield text.slice(start, end).replace(/\r$/, '');
      start = end + 1;
    }
    rest = text.slice(start);
  }
  if (rest !== '') yield rest.replace(/\r$/, '');
}

/** RFC 4180 records, parsed incrementally: quoted fields may hold commas, line breaks and doubled quotes. */
async function* csvRecords(file: string): AsyncGenerator<{ line: number; fields: string[] }> {
  const parser = new CsvParser();
  let isStart = true;
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 16 })) {
    let text = chunk as string;
    if (isStart) {
      text = text.replace(/^\uFEFF/, '');
      isStart = false;
    }
    yield* parser.push(text);
  }
  yield* parser.end();
}

/** The state machine of `parseCsv` (scan-csv.ts), fed chunk by chunk. */
class CsvParser {
  private fields: string[] = [];
  private field = '';
  private isInQuotes = false;
  private isQuoteSeen = false; // a quote inside quotes: either the closing one or the first of a doubled pair
  private isCarriageReturn = false;
  private line = 1;
  private rowLine = 1;
  private rowHasContent = false;

  *push(text: string): Generator<{ line: number; fields: string[] }> {
    for (let i = 0; i < text.length; i++) {
      const ch = text[i]!;
      if (this.isCarriageReturn) {
        this.isCarriageReturn = false;
        if (ch === '\n') continue; // \r\n is one break, already counted
      }
      if (this.isQuoteSeen) {
        this.isQuoteSeen = false;
        if (ch === '"') {
          this.field += '"';
          continue;
        }
        this.isInQuotes = false;
      }
      if (this.isInQuotes) {
        if (ch === '"') this.isQuoteSeen = true;
        else {
          if (ch === '\n') this.line++;
          this.field += ch;
        }
      } else if (ch === '"') {
        this.isInQuotes = true;
        this.rowHasContent = true;
      } else if (ch === ',') {
        this.fields.push(this.field);
        this.field = '';
      } else if (ch === '\n' || ch === '\r') {
        this.isCarriageReturn = ch === '\r';
        const row = this.endRow();
        if (row) yield row;
        this.line++;
        this.rowLine = this.line;
      } else {
        this.field += ch;
      }
    }
  }

  *end(): Generator<{ line: number; fields: string[] }> {
    if (this.isQuoteSeen) {
      this.isQuoteSeen = false;
      this.isInQuotes = false;
    }
    if (this.field !== '' || this.fields.length > 0 || this.rowHasContent) {
      const row = this.endRow();
      if (row) yield row;
    }
  }

  private endRow(): { line: number; fields: string[] } | undefined {
    this.fields.push(this.field);
    const fields = this.fields;
    const isRow = this.rowHasContent || fields.length > 1 || this.field.trim() !== '';
    this.fields = [];
    this.field = '';
    this.rowHasContent = false;
    return isRow ? { line: this.rowLine, fields } : undefined;
  }
}
