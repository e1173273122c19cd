// How a manifest's columns are found and read: the header names, one-hot class columns, and the split column.
import { GraftError } from '../core/errors.js';

/** The part of a split set a manifest row is in, as its split column says. */
export type ManifestPart = 'train' | 'val' | 'test';

/**
 * Header names a manifest's column of image paths may have, in order of preference: Keras's
 * `flow_from_dataframe` reads `filename`, fastai's `from_csv` examples use `name` and `fname`, and exports from
 * labelling tools and Kaggle use the others (Kaggle's ids often without an extension: see manifest-files.ts).
 */
export const PATH_COLUMNS: readonly string[] = ['path', 'filename', 'file_name', 'fname', 'file', 'filepath', 'file_path', 'image', 'image_path', 'image_name', 'img', 'img_path', 'name', 'image_id', 'img_id', 'id_code', 'id', 'url', 'image_url', 'img_url'];
/** Header names a manifest's column of class names may have, in order of preference (Keras reads `class`; Label Studio's classification template names it `choice`). */
export const LABEL_COLUMNS: readonly string[] = ['label', 'class', 'class_name', 'category', 'target', 'species', 'choice'];

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
export interface Columns {
  readonly path: number;
  /** The class column; -1 when the classes are one column each ({@link Columns.classes}). */
  readonly label: number;
  readonly width?: number;
  /** A one-hot table's class columns (every column but the path and the split), each named after its class. */
  readonly classes?: { readonly indices: readonly number[]; readonly names: readonly string[] };
  /** The split column and whether it is a true/false validation flag rather than a part's name. */
  readonly split?: { readonly index: number; readonly isFlag: boolean };
  /** An `error` column, as `graft predict --csv` and `graft eval --csv` write: a row with one names an unreadable image. */
  readonly error?: number;
}
export const PLAIN_COLUMNS: Columns = { path: 0, label: 1, width: 2 };

/** A header name as compared: trimmed, lower case, spaces and hyphens as underscores ("Image Path" is image_path). */
export const columnKey = (name: string): string => name.trim().toLowerCase().replace(/[\s-]+/g, '_');

/** The first of `names` that `keys` holds, as an index into `keys`; -1 when none. */
export function findColumn(keys: readonly string[], names: readonly string[]): number {
  for (const name of names) {
    const at = keys.indexOf(name);
    if (at >= 0) return at;
  }
  return -1;
}

/**
 * The columns a CSV's first row names, when it is a header: it names a path column and a label column; or a path
 * column and one other, the label column under a name of its own (`id_code,diagnosis`); or a path column and two or
 * more others, which are then one column per class (a one-hot table).
 */
export function headerColumns(fields: readonly string[]): Columns | undefined {
  const keys = fields.map(columnKey);
  const [path, label] = [findColumn(keys, PATH_COLUMNS), findColumn(keys, LABEL_COLUMNS)];
  if (path < 0) return undefined;
  const split = splitColumn(keys);
  // Only beside a label column: in a one-hot table an `error` column is a class (a defect inspection's "error").
  const error = label >= 0 ? keys.indexOf('error') : -1;
  const common = { path, width: fields.length, ...(split ? { split } : {}), ...(error >= 0 ? { error } : {}) };
  if (label >= 0) return { ...common, label };
  // A bare `id` is too often a row number to read the columns beside it as classes.
  const indices = keys[path] === 'id' ? [] : keys.flatMap((_, i) => (i === path || i === split?.index ? [] : [i]));
  if (indices.length >= 2) return { ...common, label: -1, classes: { indices, names: indices.map((i) => fields[i]!.trim()) } };
  // A path column under its name and one other (Kaggle's `id_code,diagnosis`): that other holds the class.
  if (indices.length === 1 && keys[path] !== 'id') return { ...common, label: indices[0]! };
  return undefined;
}

/** The values a one-hot table's cell may hold, and whether each marks the row's class. */
const ONE_HOT_VALUES: Readonly<Record<string, boolean>> = { '1': true, '1.0': true, true: true, '0': false, '0.0': false, false: false, '': false };

/**
 * The class a one-hot row marks: the one column holding 1.
 * @throws GraftError `INVALID_DATASET` for a cell that is not 0 or 1, and for a row marking no class or several.
 */
export function oneHotLabel(fields: readonly string[], classes: NonNullable<Columns['classes']>, file: string, line: number): string {
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
export function splitColumn(keys: readonly string[]): Columns['split'] {
  const named = findColumn(keys, SPLIT_COLUMNS);
  if (named >= 0) return { index: named, isFlag: false };
  const flag = findColumn(keys, VALID_FLAG_COLUMNS);
  return flag >= 0 ? { index: flag, isFlag: true } : undefined;
}

/** The part a row's split value names. @throws GraftError `INVALID_DATASET` for a value that names none. */
export function partOf(value: string, isFlag: boolean, file: string, line: number): ManifestPart {
  const part = (isFlag ? FLAG_PARTS : PART_NAMES)[value.trim().toLowerCase()];
  if (part !== undefined) return part;
  const accepted = isFlag ? 'true or false (1 or 0): true marks a validation row' : 'train, valid (val, validation) or test';
  throw new GraftError('INVALID_DATASET', `Line ${line} of ${file} has the split ${JSON.stringify(value)}, which names no part of a split set`, {
    hint: `write ${accepted} in that column, or drop the column to use every row as training data`,
  });
}

/** A JSON Lines record's columns, as `jsonlRecords` (manifest.ts) lays out its fields: path, label[, split, kind]. */
export function jsonlColumns(fields: readonly string[]): Columns {
  return fields.length > 2 ? { path: 0, label: 1, split: { index: 2, isFlag: fields[3] === 'flag' } } : { path: 0, label: 1 };
}

/** What a malformed row lacks, for its error message. */
export function malformedWhat(columns: Columns): string {
  if (columns === PLAIN_COLUMNS || columns.width === undefined) return 'is not "path,label"';
  return `does not have the header's ${columns.width} fields with a path and a label`;
}

/** The error for a CSV whose first row has more than two fields and names no path and label column. */
export function unnamedColumns(file: string, line: number, fields: readonly string[]): GraftError {
  return new GraftError('INVALID_DATASET', `Line ${line} of ${file} has ${fields.length} fields and is not a header naming the path and label columns. Received: ${JSON.stringify(fields)}`, {
    hint: `start the file with a header: name the image column ${PATH_COLUMNS.slice(0, 3).join(', ')}, ... and the class column ${LABEL_COLUMNS.slice(0, 3).join(', ')}, ...; or write path,label lines`,
  });
}
