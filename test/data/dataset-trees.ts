import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { GraftError } from '../../src/core/errors.js';

/** A temporary folder holding `files` (relative path -> content): dataset layouts, without real images. */
export async function tree(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'graft-scan-'));
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), content);
  }
  return root;
}

/** Awaits `promise`, expects it to fail with an INVALID_DATASET GraftError whose message (and hint) match. */
export async function expectDatasetError(promise: Promise<unknown>, pattern: RegExp, hintPattern?: RegExp): Promise<GraftError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GraftError);
  const graftError = error as GraftError;
  expect(graftError.code).toBe('INVALID_DATASET');
  expect(graftError.message).toMatch(pattern);
  if (hintPattern) expect(graftError.hint).toMatch(hintPattern);
  return graftError;
}

