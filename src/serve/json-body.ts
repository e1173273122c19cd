import { ServeError } from './serve-error.js';

/**
 * The most arrays, objects and list items a JSON body may hold. A request to Graft's servers is a small object (a
 * predict batch: one list of at most a few hundred images); parsing is linear in the values a body holds, and 10 MB of
 * `[[[[…` or `0,0,0,…` held the event loop for 1 to 5 s (health probes included) before this was checked.
 */
export const MAX_JSON_VALUES = 10_000;

/**
 * Parses a request's JSON body, refusing before parsing one that holds more than {@link MAX_JSON_VALUES} values (counted
 * from its `[`, `{` and `,` characters, those inside strings too: an upper bound, found by native searches in a few ms on
 * tens of MB of base64) and, after it, one with a `__proto__` or `constructor.prototype` key (what Fastify's own parser
 * refuses, as prototype pollution).
 * @throws ServeError `BAD_REQUEST` naming what is wrong: empty, too many values, not JSON (with the parser's position), a
 *   forbidden key.
 */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw new ServeError('BAD_REQUEST', 'The JSON body is empty.', { hint: 'send a JSON object, or no Content-Type: application/json' });
  const values = countOf(text, '[') + countOf(text, '{') + countOf(text, ',');
  if (values > MAX_JSON_VALUES) {
    throw new ServeError('BAD_REQUEST', `The JSON body holds more than ${MAX_JSON_VALUES} arrays, objects and list items (about ${values}); a request here is a small object.`, {
      hint: 'send { "image": "<base64>" } or { "images": [...] }, and split a long batch',
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const said = error instanceof Error ? error.message : String(error);
    throw new ServeError('BAD_REQUEST', `The body is not valid JSON: ${said.length > 200 ? `${said.slice(0, 200)}…` : said}.`);
  }
  if (text.includes('__proto__') || text.includes('constructor')) {
    const key = forbiddenKey(value);
    if (key !== undefined) throw new ServeError('BAD_REQUEST', `The JSON body has a key "${key}", which this server refuses (prototype pollution).`);
  }
  return value;
}

/** How many times `char` occurs in `text` (indexOf is a native search; a loop over characters is 10x slower). */
function countOf(text: string, char: string): number {
  let count = 0;
  for (let at = text.indexOf(char); at !== -1; at = text.indexOf(char, at + 1)) count++;
  return count;
}

/** `__proto__`, or `constructor.prototype`, where an object of `value` has it as its own key. */
function forbiddenKey(value: unknown): string | undefined {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const next = pending.pop();
    if (typeof next !== 'object' || next === null) continue;
    if (Object.hasOwn(next, '__proto__')) return '__proto__';
    const ctor = Object.hasOwn(next, 'constructor') ? (next as { constructor: unknown }).constructor : undefined;
    if (typeof ctor === 'object' && ctor !== null && Object.hasOwn(ctor, 'prototype')) return 'constructor.prototype';
    pending.push(...Object.values(next));
  }
  return undefined;
}
