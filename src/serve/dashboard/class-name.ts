import { VAL_FOLDER_NAMES } from '../../data/find-split-folders.js';
import { ServeError } from '../serve-error.js';

/**
 * Letters (with their combining marks: Devanagari's vowel signs, an accent typed apart), digits, space, _ . - ;
 * starting with a letter or digit; at most 64 characters.
 */
const LABEL_PATTERN = /^[\p{L}\p{N}][\p{L}\p{M}\p{N} _.-]{0,63}$/u;

/**
 * Folder names a class may not take: `train` and the validation names make the dataset scanner read the project
 * as already split (so one class named `train` would hide every other class); Windows' device names cannot be
 * folders on Windows, where a copied project would break.
 */
const SPLIT_NAMES = new Set(['train', ...VAL_FOLDER_NAMES]);
const DEVICE_NAMES = new Set(['con', 'prn', 'aux', 'nul', ...[1, 2, 3, 4, 5, 6, 7, 8, 9].flatMap((n) => [`com${n}`, `lpt${n}`])]);

/**
 * The class label of an upload, trimmed, as it will name the class folder.
 * @throws ServeError `BAD_REQUEST` for a label that is empty, too long, has other characters, ends in a dot or
 *   space, or is reserved (compared without case, as case-insensitive file systems do).
 */
export function checkClassName(raw: string): string {
  // Composed (NFC): "ü" typed as u + a combining diaeresis names the same folder as "ü".
  const label = raw.trim().normalize('NFC');
  if (!LABEL_PATTERN.test(label) || /[. ]$/.test(label)) {
    throw new ServeError('BAD_REQUEST', `A class label is 1 to 64 letters, digits, spaces, _ . or -, starting with a letter or digit and not ending in a dot. Received: label=${JSON.stringify(label.slice(0, 80))}${label.length > 80 ? ' (truncated)' : ''}`);
  }
  const lower = label.toLowerCase();
  if (SPLIT_NAMES.has(lower) || DEVICE_NAMES.has(lower.replace(/\..*$/, ''))) {
    throw new ServeError('BAD_REQUEST', `"${label}" cannot be a class label: it is a reserved folder name (train, ${VAL_FOLDER_NAMES.join(', ')} mark a dataset's split; ${[...DEVICE_NAMES].slice(0, 4).join(', ')}, ... are Windows devices).`, {
      hint: 'choose another name, e.g. "train-set" or "my_validation"',
    });
  }
  return label;
}
