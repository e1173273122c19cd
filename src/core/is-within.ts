import { realpath } from 'node:fs/promises';
import { isAbsolute, relative, sep } from 'node:path';

/**
 * Whether `path` is `dir` or lies inside it, compared as resolved paths (no file system access: links are the
 * caller's to resolve first). `/data/..b` is inside `/data`; `/data2` and `/data/../x` are not.
 */
export function isWithin(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/** Whether `path`, links resolved, is one of `dirs` (real paths) or inside one; false for a path that does not exist. */
export async function isReallyWithin(path: string, dirs: readonly string[]): Promise<boolean> {
  const real = await realpath(path).catch(() => undefined);
  return real !== undefined && dirs.some((dir) => isWithin(real, dir));
}
