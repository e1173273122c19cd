import { ServeError } from '../serve-error.js';

/**
 * A project name as stored and shown: trimmed, each run of white space one space (a page shows "a  b" as "a b").
 * @throws ServeError `BAD_REQUEST` for a name of white space only.
 */
export function tidyProjectName(raw: string): string {
  const name = raw.trim().replace(/\s+/g, ' ');
  if (!name) throw new ServeError('BAD_REQUEST', `A project needs a name; this one is only white space. Received: name=${JSON.stringify(raw.slice(0, 80))}`, { hint: 'type a name, e.g. "bees"' });
  return name;
}

/**
 * What two projects' names may not share: their tidy form, without case, in Unicode compatibility form (so "Bees",
 * " bees " and "ＢＥＥＳ" are one name). A name is how a user, and a screen reader's announcement, tells projects apart.
 */
export function projectNameKey(name: string): string {
  return name.trim().replace(/\s+/g, ' ').normalize('NFKC').toLowerCase();
}

/** The refusal of a name another project has (409). */
export function projectNameTaken(name: string, taken: { readonly id: number; readonly name: string }): ServeError {
  return new ServeError('CONFLICT', `The name ${JSON.stringify(name)} is taken by project #${taken.id} (${JSON.stringify(taken.name)}); project names differ by more than case and spaces.`, {
    hint: `choose another name, or use project #${taken.id}`,
  });
}
