import { isAbsolute, relative, sep } from 'node:path';

/**
 * Whether `path` is `dir` or lies inside it, compared as resolved paths (no file system access: links are the
 * caller's to resolve first). `/data/..b` is inside `/data`; `/data2` and `/data/../x` are not.
 */
export function isWithin(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}
