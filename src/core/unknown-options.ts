import { GraftError } from './errors.js';

/**
 * Refuses an option the function does not read: a variable of options escapes TypeScript's check of extra properties,
 * so `{ tolerence: 1e-3 }` compiled and ran with the default, silently.
 * @param known every option `fn` reads: a record, so the compiler checks it against the options type.
 * @param hintFor where an unknown key belongs instead, if the caller knows (train's `config`).
 * @throws GraftError `INVALID_CONFIG` naming the unknown keys and the known ones.
 */
export function refuseUnknownKeys<T extends object>(fn: string, options: T, known: Record<keyof T, true>, hintFor?: (unknown: readonly string[]) => string | undefined): void {
  const unknown = Object.entries(options).filter(([key, value]) => value !== undefined && !Object.hasOwn(known, key)).map(([key]) => key);
  if (unknown.length === 0) return;
  const hint = hintFor?.(unknown);
  throw new GraftError('INVALID_CONFIG', `Unknown option${unknown.length === 1 ? '' : 's'} of ${fn}(): ${unknown.join(', ')}. Known: ${Object.keys(known).join(', ')}`, {
    ...(hint ? { hint } : {}),
  });
}
