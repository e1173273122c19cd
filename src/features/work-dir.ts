import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraftError } from '../core/errors.js';
import { optionName } from '../core/option-name.js';

/**
 * A new private folder for local scratch files under `parent` (--work-dir) or the system's temporary folder.
 * @param needs what goes there, for the hint (e.g. "a copy of the shard being written").
 * @throws GraftError INVALID_CONFIG when it cannot be made (a missing or read-only folder: a container's root),
 *   naming the folder and --work-dir.
 */
export function makeWorkDir(parent: string | undefined, prefix: string, needs: string): string {
  const where = parent ?? tmpdir();
  try {
    return mkdtempSync(join(where, prefix));
  } catch (cause) {
    throw new GraftError('INVALID_CONFIG', `Cannot make a scratch folder in ${where} (${(cause as Error).message})`, {
      hint: `pass ${optionName('workDir')} an existing, writable local folder (it holds ${needs})`,
      cause,
    });
  }
}
