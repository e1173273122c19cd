import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { sep } from 'node:path';
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
 * Header names a manifest's column of image paths may have, in order of preference: Keras's
 * `flow_from_dataframe` reads `filename`, fastai's `from_csv` examples use `name` and `fname`, and exports from
 * labelling tools and Kaggle use the others.
 */
export const PATH_COLUMNS: readonly string[] = ['path', 'filename', 'file_name', 'fname', 'file', 'filepath', 'file_path', 'image', 'image_path', 'image_name', 'img', 'img_path', 'name'];
/** Header names a manifest's column of class names may have, in order of preference (Keras reads `class`). */
export const LABEL_COLUMNS: readonly string[] = ['label', 'class', 'class_name', 'category', 'target', 'species'];

/** Where the path and the label are in a manifest's rows, and how many fields a row has (undefined: any). */
interface Columns {
  readonly path: number;
  readonly label: number;
  readonly width?: number;
}
const PLAIN_COLUMNS: Columns = { path: 0, label: 1, width: 2 };

/** A header name as compared: trimmed, lower case, spaces and hyphens as underscores ("Image Path" is image_path). */
const columnKey = (name: string): string => name.trim().toLowerCase().replace(/[\s-]+/g, '_');

/** The first of `names` that `keys` holds, as an index into `keys`; -1 when none. */
function findColumn(keys: readonly string[], names: readonly string[]): number {
  for (const name of names) {
    const at = keys.indexOf(name);
    if (at >= 0) return at;
  }
  return -1;
}

/** The columns a CSV's first row names, when it is a header (it names both a path and a label column). */
function headerColumns(fields: readonly string[]): Columns | undefined {
  const keys = fields.map(columnKey);
  const [path, label] = [findColumn(keys, PATH_COLUMNS), findColumn(keys, LABEL_COLUMNS)];
  return path >= 0 && label >= 0 ? { path, label, width: fields.length } : undefined;
}

/**
 * Streams the entries of a manifest without reading it whole, so a million-line list costs the memory of one chunk.
 *
 * - A CSV (RFC 4180 quoting, so a quoted field may hold commas, quotes and newlines) of `path,label` lines, or with a
 *   header row that names its columns. A header names the path column with one of {@link PATH_COLUMNS} and the class
 *   column with one of {@link LABEL_COLUMNS} (any case; other columns, such as an id or a split, are ignored), so
 *   `filename,class` (what Keras's `flow_from_dataframe` reads) and `id,image,species,split` both work.
 * - JSON Lines of objects whose path and class are under those same keys (`{"path": ..., "label": ...}`; other keys
 *   are ignored).
 *
 * Blank lines are skipped. A relative path written on Windows (`images\cat\1.jpg`) is read with slashes elsewhere.
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
  let columns: Columns | undefined;
  for await (const { line, fields } of records) {
    if (columns === undefined) {
      const header = isJsonl ? undefined : headerColumns(fields);
      columns = header ?? PLAIN_COLUMNS;
      if (header) continue;
      if (fields.length > 2) throw unnamedColumns(file, line, fields);
    }
    const [path, label] = [fields[columns.path]?.trim() ?? '', fields[columns.label]?.trim() ?? ''];
    if ((columns.width !== undefined && fields.length !== columns.width) || path === '' || label === '') {
      throw new GraftError('INVALID_DATASET', `Line ${line} of ${file} ${malformedWhat(columns)}. Received: ${JSON.stringify(fields)}`, {
        hint: isJsonl
          ? `each line must be a JSON object with a string path ("${PATH_COLUMNS.slice(0, 2).join('" or "')}", ...) and label ("${LABEL_COLUMNS.slice(0, 2).join('" or "')}", ...)`
          : 'each line must be a file path and a class name separated by a comma; quote fields that contain commas',
      });
    }
    yield { line, path: portablePath(path), label };
  }
}

/**
 * A path written on Windows (`images\cat\1.jpg`, as pandas writes them there) read where `/` separates folders:
 * backslashes become slashes when the path has no slash of its own. A path with both is left as it is.
 */
function portablePath(path: string): string {
  return sep === '/' && path.includes('\\') && !path.includes('/') ? path.replaceAll('\\', '/') : path;
}

function malformedWhat(columns: Columns): string {
  if (columns === PLAIN_COLUMNS) return 'is not "path,label"';
  return `does not have the header's ${columns.width} fields with a path and a label`;
}

/** The error for a CSV whose first row has more than two fields and names no path and label column. */
function unnamedColumns(file: string, line: number, fields: readonly string[]): GraftError {
  return new GraftError('INVALID_DATASET', `Line ${line} of ${file} has ${fields.length} fields and is not a header naming the path and label columns. Received: ${JSON.stringify(fields)}`, {
    hint: `start the file with a header: name the image column ${PATH_COLUMNS.slice(0, 3).join(', ')}, ... and the class column ${LABEL_COLUMNS.slice(0, 3).join(', ')}, ...; or write path,label lines`,
  });
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
    const values = Object.values(record);
    const names = Object.keys(record).map(columnKey);
    const fields = [PATH_COLUMNS, LABEL_COLUMNS].map((columns) => values[findColumn(names, columns)]).map((v) => (typeof v === 'string' ? v : ''));
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
