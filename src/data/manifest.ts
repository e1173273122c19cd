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

/** The part of a split set a manifest row is in, as its split column says. */
export type ManifestPart = 'train' | 'val' | 'test';

/** One entry of a manifest, as written: the path is not resolved or checked here. */
export interface ManifestEntry {
  /** 1-based line where the entry starts. */
  readonly line: number;
  readonly path: string;
  readonly label: string;
  /** The row's part, when the manifest has a split column ({@link SPLIT_COLUMNS}, {@link VALID_FLAG_COLUMNS}). */
  readonly part?: ManifestPart;
}

/**
 * Header names a manifest's column of image paths may have, in order of preference: Keras's
 * `flow_from_dataframe` reads `filename`, fastai's `from_csv` examples use `name` and `fname`, and exports from
 * labelling tools and Kaggle use the others (Kaggle's ids often without an extension: see manifest-files.ts).
 */
export const PATH_COLUMNS: readonly string[] = ['path', 'filename', 'file_name', 'fname', 'file', 'filepath', 'file_path', 'image', 'image_path', 'image_name', 'img', 'img_path', 'name', 'image_id', 'img_id', 'id_code', 'id'];
/** Header names a manifest's column of class names may have, in order of preference (Keras reads `class`). */
export const LABEL_COLUMNS: readonly string[] = ['label', 'class', 'class_name', 'category', 'target', 'species'];

/**
 * Header names of a column that says which part of a split set each row is in, by name: train, valid, test (see
 * {@link PART_NAMES}). Kaggle and labelling tools export one table with such a column; read as data, its test rows
 * would be trained on.
 */
export const SPLIT_COLUMNS: readonly string[] = ['split', 'subset', 'data_split'];
/** Header names of a true/false column marking validation rows: fastai's `ColSplitter` reads `is_valid`. */
export const VALID_FLAG_COLUMNS: readonly string[] = ['is_valid', 'is_val', 'is_validation'];

/** The values a split column may hold (compared in lower case), and the part each names. */
const PART_NAMES: Readonly<Record<string, ManifestPart>> = {
  train: 'train', training: 'train', trn: 'train',
  val: 'val', valid: 'val', validation: 'val', dev: 'val',
  test: 'test', testing: 'test', tst: 'test',
};
const FLAG_PARTS: Readonly<Record<string, ManifestPart>> = { true: 'val', '1': 'val', yes: 'val', t: 'val', false: 'train', '0': 'train', no: 'train', f: 'train' };

/** Where the path, the label and the split (if any) are in a manifest's rows, and how many fields a row has (undefined: any). */
interface Columns {
  readonly path: number;
  /** The class column; -1 when the classes are one column each ({@link Columns.classes}). */
  readonly label: number;
  readonly width?: number;
  /** A one-hot table's class columns (every column but the path and the split), each named after its class. */
  readonly classes?: { readonly indices: readonly number[]; readonly names: readonly string[] };
  /** The split column and whether it is a true/false validation flag rather than a part's name. */
  readonly split?: { readonly index: number; readonly isFlag: boolean };
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

/**
 * The columns a CSV's first row names, when it is a header: it names a path column and a label column, or a path
 * column and two or more others, which are then one column per class (a one-hot table).
 */
function headerColumns(fields: readonly string[]): Columns | undefined {
  const keys = fields.map(columnKey);
  const [path, label] = [findColumn(keys, PATH_COLUMNS), findColumn(keys, LABEL_COLUMNS)];
  if (path < 0) return undefined;
  const split = splitColumn(keys);
  const common = { path, width: fields.length, ...(split ? { split } : {}) };
  if (label >= 0) return { ...common, label };
  // A bare `id` is too often a row number to read the columns beside it as classes.
  const indices = keys[path] === 'id' ? [] : keys.flatMap((_, i) => (i === path || i === split?.index ? [] : [i]));
  return indices.length >= 2 ? { ...common, label: -1, classes: { indices, names: indices.map((i) => fields[i]!.trim()) } } : undefined;
}

/** The values a one-hot table's cell may hold, and whether each marks the row's class. */
const ONE_HOT_VALUES: Readonly<Record<string, boolean>> = { '1': true, '1.0': true, true: true, '0': false, '0.0': false, false: false, '': false };

/**
 * The class a one-hot row marks: the one column holding 1.
 * @throws GraftError `INVALID_DATASET` for a cell that is not 0 or 1, and for a row marking no class or several.
 */
function oneHotLabel(fields: readonly string[], classes: NonNullable<Columns['classes']>, file: string, line: number): string {
  const marked: string[] = [];
  classes.indices.forEach((index, k) => {
    const value = fields[index]?.trim().toLowerCase() ?? '';
    const isMarked = ONE_HOT_VALUES[value];
    if (isMarked === undefined) {
      throw new GraftError('INVALID_DATASET', `Line ${line} of ${file} holds ${JSON.stringify(fields[index])} in the column "${classes.names[k]}": a table with a path column and no label column is read as one column per class, holding 1 for the image's class and 0 for the others`, {
        hint: `name the class column (${LABEL_COLUMNS.slice(0, 3).join(', ')}, ...), or drop the columns that are not classes`,
      });
    }
    if (isMarked) marked.push(classes.names[k]!);
  });
  if (marked.length === 1) return marked[0]!;
  throw new GraftError('INVALID_DATASET', `Line ${line} of ${file} marks ${marked.length === 0 ? 'no class' : `${marked.length} classes (${marked.join(', ')})`}: Graft trains a classifier of one class per image`, {
    hint: marked.length === 0 ? 'mark the image\'s class with 1, or leave the row out' : 'keep one class per image (a column for the combination, if it is one), or leave the row out',
  });
}

/** The split column among header keys: a part's name first, else a validation flag. */
function splitColumn(keys: readonly string[]): Columns['split'] {
  const named = findColumn(keys, SPLIT_COLUMNS);
  if (named >= 0) return { index: named, isFlag: false };
  const flag = findColumn(keys, VALID_FLAG_COLUMNS);
  return flag >= 0 ? { index: flag, isFlag: true } : undefined;
}

/** The part a row's split value names. @throws GraftError `INVALID_DATASET` for a value that names none. */
function partOf(value: string, isFlag: boolean, file: string, line: number): ManifestPart {
  const part = (isFlag ? FLAG_PARTS : PART_NAMES)[value.trim().toLowerCase()];
  if (part !== undefined) return part;
  const accepted = isFlag ? 'true or false (1 or 0): true marks a validation row' : 'train, valid (val, validation) or test';
  throw new GraftError('INVALID_DATASET', `Line ${line} of ${file} has the split ${JSON.stringify(value)}, which names no part of a split set`, {
    hint: `write ${accepted} in that column, or drop the column to use every row as training data`,
  });
}

/**
 * Streams the entries of a manifest without reading it whole, so a million-line list costs the memory of one chunk.
 *
 * - A CSV (RFC 4180 quoting, so a quoted field may hold commas, quotes and newlines) of `path,label` lines, or with a
 *   header row that names its columns. A header names the path column with one of {@link PATH_COLUMNS} and the class
 *   column with one of {@link LABEL_COLUMNS} (any case; other columns, such as an id, are ignored), so
 *   `filename,class` (what Keras's `flow_from_dataframe` reads) and `id,image,species,split` both work. A header with
 *   a path column and no label column but two or more others is a one-hot table, one column per class (Roboflow's
 *   `_classes.csv`, Kaggle's Plant Pathology): a row's class is the column holding 1.
 * - A split column ({@link SPLIT_COLUMNS}: train, valid or test in each row; or fastai's true/false `is_valid`) gives
 *   each entry its `part`, so callers can keep held-out rows out of training.
 * - JSON Lines of objects whose path, class and split are under those same keys (`{"path": ..., "label": ...}`; other
 *   keys are ignored).
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
  let csvColumns: Columns | undefined;
  for await (const { line, fields } of records) {
    if (!isJsonl && csvColumns === undefined) {
      const header = headerColumns(fields);
      csvColumns = header ?? PLAIN_COLUMNS;
      if (header) continue;
      if (fields.length > 2) throw unnamedColumns(file, line, fields);
    }
    const columns = csvColumns ?? jsonlColumns(fields);
    const path = fields[columns.path]?.trim() ?? '';
    const label = columns.classes && fields.length === columns.width ? oneHotLabel(fields, columns.classes, file, line) : (fields[columns.label]?.trim() ?? '');
    if ((columns.width !== undefined && fields.length !== columns.width) || path === '' || label === '') {
      throw new GraftError('INVALID_DATASET', `Line ${line} of ${file} ${malformedWhat(columns)}. Received: ${JSON.stringify(fields)}`, {
        hint: isJsonl
          ? `each line must be a JSON object with a string path ("${PATH_COLUMNS.slice(0, 2).join('" or "')}", ...) and label ("${LABEL_COLUMNS.slice(0, 2).join('" or "')}", ...)`
          : 'each line must be a file path and a class name separated by a comma; quote fields that contain commas',
      });
    }
    const split = columns.split;
    yield { line, path: portablePath(path), label, ...(split ? { part: partOf(fields[split.index] ?? '', split.isFlag, file, line) } : {}) };
  }
}

/**
 * A path written on Windows (`images\cat\1.jpg`, as pandas writes them there) read where `/` separates folders:
 * backslashes become slashes when the path has no slash of its own. A path with both is left as it is.
 */
function portablePath(path: string): string {
  return sep === '/' && path.includes('\\') && !path.includes('/') ? path.replaceAll('\\', '/') : path;
}

/** A JSON Lines record's columns, as {@link jsonlRecords} lays out its fields. */
function jsonlColumns(fields: readonly string[]): Columns {
  return fields.length > 2 ? { path: 0, label: 1, split: { index: 2, isFlag: fields[3] === 'flag' } } : { path: 0, label: 1 };
}

function malformedWhat(columns: Columns): string {
  if (columns === PLAIN_COLUMNS || columns.width === undefined) return 'is not "path,label"';
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
    const split = splitColumn(names);
    // A split value may be a string or, for a flag, a boolean or a number: fields [path, label, split, kind].
    if (split) fields.push(String(values[split.index]), split.isFlag ? 'flag' : 'named');
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
