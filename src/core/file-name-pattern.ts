import { GraftError } from './errors.js';

/**
 * A regular expression given on the command line (`--group-by`, `--label-pattern`) as a reading of file base names:
 * its first capture group, else its whole match; undefined where it does not match.
 *
 * @param flag the option's name, for the error.
 * @param hint an example of the option in use, for the error.
 * @throws GraftError `INVALID_CONFIG` naming the flag for a pattern that is not a regular expression.
 * @example
 * fileNamePattern('--label-pattern', '^(.+)_\\d+\\.jpg$', '...')('Abyssinian_12.jpg') // 'Abyssinian'
 */
export function fileNamePattern(flag: string, pattern: string, hint: string): (name: string) => string | undefined {
  let regex: RegExp;
  try {
    regex = new RegExp(pattern);
  } catch (cause) {
    throw new GraftError('INVALID_CONFIG', `${flag} is not a valid regular expression: ${(cause as Error).message}. Received: ${pattern}`, { hint, cause });
  }
  return (name) => {
    const match = regex.exec(name);
    return match ? (match[1] ?? match[0]) : undefined;
  };
}
