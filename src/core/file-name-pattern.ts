import { GraftError } from './errors.js';
import { optionName, type OptionPath } from './option-name.js';

/**
 * A regular expression option (`groupBy`, `labelPattern`) as a reading of file base names:
 * its first capture group, else its whole match; undefined where it does not match.
 *
 * @param option the option that holds the pattern, named (with its flag) in the error.
 * @param hint an example of the option in use, for the error.
 * @throws GraftError `INVALID_CONFIG` naming the option and its flag for a pattern that is not a regular expression.
 * @example
 * fileNamePattern('labelPattern', '^(.+)_\\d+\\.jpg$', '...')('Abyssinian_12.jpg') // 'Abyssinian'
 */
export function fileNamePattern(option: OptionPath, pattern: string, hint: string): (name: string) => string | undefined {
  let regex: RegExp;
  try {
    regex = new RegExp(pattern);
  } catch (cause) {
    throw new GraftError('INVALID_CONFIG', `${optionName(option)} is not a valid regular expression: ${(cause as Error).message}. Received: ${pattern}`, { hint, cause });
  }
  return (name) => {
    const match = regex.exec(name);
    return match ? (match[1] ?? match[0]) : undefined;
  };
}
