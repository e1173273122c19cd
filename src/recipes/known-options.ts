import { refuseUnknownKeys } from '../core/unknown-options.js';
import { DEFAULT_TRAIN } from '../learn/train-config.js';

/**
 * Refuses an option the function does not read, as `config` refuses an unknown key: `train({ seed: 7 })` compiled (a
 * variable of options escapes TypeScript's check of extra properties) and trained with seed 42, silently. A key that
 * belongs in `config` (or `config.head`) is named there.
 * @param known every option `fn` reads: a record, so the compiler checks it against the options type.
 * @throws GraftError `INVALID_CONFIG` naming the unknown keys.
 */
export function refuseUnknownOptions<T extends object>(fn: string, options: T, known: Record<keyof T, true>): void {
  // Only a function with a `config` has a place for a training option (saveHeadModel has none).
  const hasConfig = Object.hasOwn(known, 'config');
  refuseUnknownKeys(fn, options, known, (unknown) => {
    const where = unknown.map((key) => (!hasConfig ? undefined : Object.hasOwn(DEFAULT_TRAIN, key) ? `${key} belongs in config: { ${key}: ... }` : key === 'hidden' || key === 'dropout' ? `${key} belongs in config.head: { head: { ${key}: ... } }` : undefined)).filter(Boolean);
    return where.length ? where.join('; ') : undefined;
  });
}
