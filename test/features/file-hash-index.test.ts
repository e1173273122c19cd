import { writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileHashIndex } from '../../src/features/file-hash-index.js';
import { tempDir } from '../support.js';

describe('FileHashIndex.stamp', () => {
  it('stamps each listed file in order, a repeated path as the same file, a missing one as undefined', async () => {
    const dir = await tempDir();
    const [a, b] = [join(dir, 'a.jpg'), join(dir, 'b.jpg')];
    await writeFile(a, 'aaaa');
    await writeFile(b, 'bb');
    // A manifest may list a path many times, and relative to the working directory.
    const listed = [a, relative(process.cwd(), a), join(dir, 'missing.jpg'), b, ...Array.from({ length: 500 }, () => a)];
    const stamps = await FileHashIndex.stamp(listed);
    expect(stamps).toHaveLength(listed.length);
    expect(stamps[0]).toMatchObject({ file: a, size: 4 });
    expect(stamps[1]).toEqual(stamps[0]);
    expect(stamps[2]).toBeUndefined();
    expect(stamps[3]).toMatchObject({ file: b, size: 2 });
    expect(stamps.slice(4).every((s) => s?.file === a)).toBe(true);
  });
});
