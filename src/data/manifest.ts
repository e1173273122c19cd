import { createReadStream, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { readHead } from '../core/read-head.js';
import { dirname, isAbsolute, join, sep } from 'node:path';
import { GraftError } from '../core/errors.js';
import { CsvParser, UnclosedQuoteError } from './csv-parser.js';
import { columnKey, findColumn, headerColumns, jsonlColumns, LABEL_COLUMNS, malformedWhat, oneHotLabel, partOf, PATH_COLUMNS, PLAIN_COLUMNS, splitColumn, unnamedColumns, type Columns, type ManifestPart } from './manifest-columns.js';

/** File extensions read as manifests of `path,label` (anything else is a folder). */
export const MANIFEST_EXTENSIONS: readonly string[] = ['.csv', '.jsonl', '.ndjson'];

/** Whether `path` names a manifest (by extension, case-insensitive) rather than a folder. */
export function isManifestPath(path: string): boolean {
  const lower = path.toLowerCase();
  return MANIFEST_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

export type { ManifestPart } from './manifest-columns.js';
export { LABEL_COLUMNS, PATH_COLUMNS, SPLIT_COLUMNS, VALID_FLAG_COLUMNS } from './manifest-columns.js';

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
 * Blank lines (and CSV rows of empty fields, as Excel leaves them) are skipped. A relative path written on Windows (`images\cat\1.jpg`) is read with slashes elsewhere.
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
  await requireUtf8(file);
  const isJsonl = !file.toLowerCase().endsWith('.csv');
  const records = isJsonl ? jsonlRecords(file) : csvRecords(file);
  let csvColumns: Columns | undefined;
  for await (const { line, fields } of records) {
    // Excel writes a row it emptied as commas alone (",," for three columns): a blank line, not a malformed row.
    if (!isJsonl && fields.every((field) => field.trim() === '')) continue;
    if (!isJsonl && csvColumns === undefined) {
      const header = headerColumns(fields);
      csvColumns = header ?? PLAIN_COLUMNS;
      if (header) continue;
      if (fields.length > 2) throw unnamedColumns(file, line, fields);
    }
    const columns = csvColumns ?? jsonlColumns(fields);
    const path = fields[columns.path]?.trim() ?? '';
    const label = columns.classes && fields.length === columns.width ? oneHotLabel(fields, columns.classes, file, line) : (fields[columns.label]?.trim() ?? '');
    if (!isJsonl && /[\r\n]/.test(path) && !existsSync(isAbsolute(path) ? path : join(dirname(file), path))) {
      // A path across lines that names no file: a stray quote opened a field that a quote lines later closed.
      throw new GraftError('INVALID_DATASET', `Line ${line} of ${file} opens a quoted field (") that runs over the next line(s): its path reads ${JSON.stringify(path.slice(0, 120))}`, {
        hint: 'remove the stray quote, or close it on the same line; a quote inside a quoted field is written twice ("")',
      });
    }
    const hasFields = columns.width === undefined || fields.length === columns.width;
    // `graft predict --csv`'s row for an image it could not read (no label, the reason in `error`): it said so then.
    if (hasFields && label === '' && columns.error !== undefined && (fields[columns.error] ?? '').trim() !== '') continue;
    if (hasFields && path !== '' && label === '') {
      throw new GraftError('INVALID_DATASET', `Line ${line} of ${file} has no label for ${path}. Received: ${JSON.stringify(fields)}`, {
        hint: isJsonl
          ? `give every object its class under "${LABEL_COLUMNS.slice(0, 2).join('" or "')}" (or leave the line out: unlabelled images cannot train or be scored)`
          : 'give every image its class, or leave the row out (unlabelled images cannot train or be scored)',
      });
    }
    if (!hasFields || path === '' || label === '') {
      throw new GraftError('INVALID_DATASET', `Line ${line} of ${file} ${malformedWhat(columns)}. Received: ${JSON.stringify(fields)}`, {
        hint: isJsonl
          ? `each line must be a JSON object with a string path ("${PATH_COLUMNS.slice(0, 2).join('" or "')}", ...) and label ("${LABEL_COLUMNS.slice(0, 2).join('" or "')}", ...)`
          : fields.length === 1 && /[;\t]/.test(fields[0] ?? '')
            ? 'this looks like a file separated by ";" or tabs (Excel in many regions writes ";"): save it as "CSV UTF-8 (Comma delimited)", or replace the separators with commas'
            : 'each line must be a file path and a class name separated by a comma; quote fields that contain commas',
      });
    }
    const split = columns.split;
    yield { line, path: portablePath(path), label, ...(split ? { part: partOf(fields[split.index] ?? '', split.isFlag, file, line) } : {}) };
  }
}

/**
 * Refuses a UTF-16 file (by its byte-order mark, or the zero bytes UTF-16 puts in ASCII text): what Excel's "Unicode
 * text" and Windows PowerShell's `>` write. Read as UTF-8 its every other character is a NUL.
 */
async function requireUtf8(file: string): Promise<void> {
  const bytes = readHead(file, 512);
  const bom = bytes.length >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff));
  if (bom || bytes.includes(0)) {
    throw new GraftError('INVALID_DATASET', `${file} is UTF-16 text${bom ? '' : ' (or binary)'}; a manifest is read as UTF-8`, {
      hint: 'save it as UTF-8: in Excel "CSV UTF-8"; in PowerShell, Out-File -Encoding utf8 (or Set-Content -Encoding utf8)',
    });
  }
}

/**
 * A path written on Windows (`images\cat\1.jpg`, as pandas writes them there) read where `/` separates folders:
 * backslashes become slashes when the path has no slash of its own. A path with both is left as it is.
 */
function portablePath(path: string): string {
  return sep === '/' && path.includes('\\') && !path.includes('/') ? path.replaceAll('\\', '/') : path;
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
    // A label may be a number (Hugging Face exports write class ids): it is the class name "0", as in a CSV.
    const [path, label] = [PATH_COLUMNS, LABEL_COLUMNS].map((columns) => values[findColumn(names, columns)]);
    const fields = [typeof path === 'string' ? path : '', typeof label === 'string' ? label : typeof label === 'number' && Number.isFinite(label) ? String(label) : ''];
    const split = splitColumn(names);
    // A split value may be a string or, for a flag, a boolean or a number: fields [path, label, split, kind].
    if (split) fields.push(String(values[split.index]), split.isFlag ? 'flag' : 'named');
    yield { line, fields };
  }
}

/** Lines of a UTF-8 file (without their line breaks), read in chunks; a leading BOM is dropped. */
async function* lines(file: string): AsyncGenerator<string> {
  let rest = '';
  for await (const chunk of utf8Chunks(file)) {
    const text = rest + chunk;
    let start = 0;
    for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n', start)) {
      yield text.slice(start, end).replace(/\r$/, '');
      start = end + 1;
    }
    rest = text.slice(start);
  }
  if (rest !== '') yield rest.replace(/\r$/, '');
}

/**
 * A file's text in chunks, decoded strictly: bytes that are not UTF-8 (Excel's "CSV (Comma delimited)" writes the
 * Windows code page) are refused with their line, where a lenient decoder would turn "é" into U+FFFD and two labels
 * that differ in their accents into one class. A leading byte-order mark is dropped (the decoder's default).
 */
async function* utf8Chunks(file: string): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const decode = async (bytes?: Buffer): Promise<string> => {
    try {
      return bytes ? decoder.decode(bytes, { stream: true }) : decoder.decode();
    } catch {
      throw new GraftError('INVALID_DATASET', `${file} is not UTF-8 text (line ${await firstNonUtf8Line(file)} holds bytes UTF-8 does not have: a Windows code page, e.g. an accented letter saved by Excel's "CSV (Comma delimited)")`, {
        hint: 'save it as UTF-8: in Excel "CSV UTF-8 (Comma delimited)"; or convert it: iconv -f cp1252 -t utf-8 old.csv > new.csv',
      });
    }
  };
  for await (const bytes of createReadStream(file, { highWaterMark: 1 << 16 })) yield await decode(bytes as Buffer);
  const tail = await decode();
  if (tail !== '') yield tail;
}

/**
 * The first line of a file that is not UTF-8, counted from 1: each line decoded on its own (a newline byte is never
 * part of a longer UTF-8 sequence, so lines split the bytes exactly). Read again only when a file was refused.
 */
async function firstNonUtf8Line(file: string): Promise<number> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const isUtf8 = (line: Buffer): boolean => {
    try {
      decoder.decode(line);
      return true;
    } catch {
      return false;
    }
  };
  let line = 1;
  let rest = Buffer.alloc(0);
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 16 })) {
    let text = Buffer.concat([rest, chunk as Buffer]);
    for (let end = text.indexOf(10); end >= 0; end = text.indexOf(10)) {
      if (!isUtf8(text.subarray(0, end))) return line;
      line++;
      text = text.subarray(end + 1);
    }
    rest = text;
  }
  return line;
}

/** RFC 4180 records, parsed incrementally: quoted fields may hold commas, line breaks and doubled quotes. */
async function* csvRecords(file: string): AsyncGenerator<{ line: number; fields: string[] }> {
  const parser = new CsvParser();
  for await (const chunk of utf8Chunks(file)) yield* parser.push(chunk);
  try {
    yield* parser.end();
  } catch (error) {
    if (!(error instanceof UnclosedQuoteError)) throw error;
    throw new GraftError('INVALID_DATASET', `Line ${error.line} of ${file} opens a quoted field (") that is never closed: every line after it was read as part of that field`, {
      hint: 'remove the stray quote, or close it; a quote inside a quoted field is written twice ("")',
    });
  }
}

/** The rows of each part of a manifest with a split column; undefined without one. One streamed pass. */
export async function manifestPartCounts(source: string): Promise<Record<ManifestPart, number> | undefined> {
  const counts: Record<ManifestPart, number> = { train: 0, val: 0, test: 0 };
  for await (const entry of streamManifest(source)) {
    if (entry.part === undefined) return undefined;
    counts[entry.part]++;
  }
  return counts;
}
