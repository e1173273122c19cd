import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support.js';

/** Every TypeScript file under `dir`, recursively. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : []));
}

describe('the environment', () => {
  it('is read only by the CLI (ARCHITECTURE.md, "No hidden state"): the library takes every setting as an option', () => {
    const src = join(repoRoot, 'src');
    const readers = sourceFiles(src)
      .map((file) => relative(src, file))
      .filter((file) => !file.startsWith('cli/') && /process\.env\b/.test(readFileSync(join(src, file), 'utf8')));
    expect(readers).toEqual([]);
  });
});
