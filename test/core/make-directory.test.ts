import { existsSync } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDirectory, makeDirectorySync } from '../../src/core/make-directory.js';
import { tempDir } from '../support.js';

describe('makeDirectory (mkdir -p without Node’s endless loop)', () => {
  it('creates the folders on the way, is fine with one already there, and refuses a file in the way', async () => {
    const root = await tempDir('graft-mkdir-');
    const deep = join(root, 'a', 'b', 'c');
    await makeDirectory(deep);
    expect((await stat(deep)).isDirectory()).toBe(true);
    await makeDirectory(deep);
    makeDirectorySync(join(root, 'a', 'x', 'y'));
    expect(existsSync(join(root, 'a', 'x', 'y'))).toBe(true);
    await writeFile(join(root, 'file'), 'x');
    await expect(makeDirectory(join(root, 'file'))).rejects.toMatchObject({ code: 'EEXIST' });
    await expect(makeDirectory(join(root, 'file', 'below'))).rejects.toMatchObject({ code: 'ENOTDIR' });
    expect(() => makeDirectorySync(join(root, 'file', 'below'))).toThrow(/ENOTDIR/);
  });

  // Node's mkdir(..., { recursive: true }) spins at full CPU here for ever (graft train --out /proc/m hung, deaf to Ctrl+C).
  it.skipIf(!existsSync('/proc/self'))('answers where the file system makes no folder under an existing one (/proc), instead of spinning', async () => {
    const started = Date.now();
    const error = (await makeDirectory('/proc/graft-test-folder/inside').catch((e: unknown) => e)) as { code?: string; message?: string };
    expect(error).toBeDefined();
    expect(Date.now() - started).toBeLessThan(2000);
    // As root, /proc answers ENOENT (said as a folder it takes none in); as another user, EACCES.
    if (error.code === 'INVALID_CONFIG') expect(error.message).toBe('Cannot create the folder /proc/graft-test-folder: /proc takes no new folders (the file system answers ENOENT)');
    else expect(error.code).toBe('EACCES');
    expect(() => makeDirectorySync('/proc/graft-test-folder')).toThrow();
  });
});
