import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { removeOrphanedSiblings, replaceDirectory, writeDirectoryStaged, writeFileAtomic } from '../../src/core/atomic-write.js';
import { beginSwap, removeUnfinishedWrites, workingPathFor } from '../../src/core/unfinished-writes.js';
import { tempDir } from '../support.js';

describe('what a killed writer left beside its output is tidied by the next write', () => {
  const dead = spawnSync(process.execPath, ['-e', '']).pid; // exited: its pid names no process now

  it('replaceDirectory removes dead writers\' staging folders and temporaries, keeps live ones', async () => {
    const root = await tempDir();
    const dest = join(root, 'model');
    await mkdir(dest);
    const leftovers = [`model.staging-${dead}-ab12cd34`, `model.converting-${dead}-00ff00ff`, `model.exporting-${dead}-12345678.converting-${dead}-9abcdef0`, `model.old-${dead}-deadbeef`, `model.tmp-${dead}-cafe0001`];
    for (const name of leftovers) await mkdir(join(root, name));
    const live = `model.staging-${process.pid}-11111111`;
    await mkdir(join(root, live));
    await mkdir(join(root, 'model.notes')); // not a writer's name: never touched
    // A person's backups that look like a writer's name (a year read as a pid): never touched.
    for (const name of ['model.old-2024-06', 'model.old-2024-dec', 'model.staging-1-abc']) await mkdir(join(root, name));
    const staging = join(root, 'new-model');
    await mkdir(staging);
    await writeFile(join(staging, 'graft.json'), '{}');
    await replaceDirectory(staging, dest);
    expect(readdirSync(root).sort()).toEqual(['model', 'model.notes', 'model.old-2024-06', 'model.old-2024-dec', 'model.staging-1-abc', live].sort());
    expect(existsSync(join(dest, 'graft.json'))).toBe(true);
  });

  it('an .old copy is kept while the output is missing (killed between the renames, it is the only copy)', async () => {
    const root = await tempDir();
    const old = join(root, `model.old-${dead}-deadbeef`);
    await mkdir(old);
    await removeOrphanedSiblings(join(root, 'model'));
    expect(existsSync(old)).toBe(true);
  });

  it('writeFileAtomic tidies its own kind too', async () => {
    const root = await tempDir();
    await writeFile(join(root, `report.html.tmp-${dead}-0badf00d`), 'half');
    await writeFileAtomic(join(root, 'report.html'), 'whole');
    expect(readdirSync(root)).toEqual(['report.html']);
  });
});

describe('two writers replacing one directory at the same time', () => {
  it('both succeed, the last to finish wins, and nothing is left beside it', async () => {
    const root = await tempDir();
    const dest = join(root, 'model');
    for (let round = 0; round < 30; round++) {
      const stagings = await Promise.all(['a', 'b'].map(async (who) => {
        const staging = join(root, `.staging-${who}-${round}`);
        await mkdir(staging);
        await writeFile(join(staging, 'graft.json'), who);
        return staging;
      }));
      const results = await Promise.allSettled(stagings.map((staging) => replaceDirectory(staging, dest)));
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      expect(['a', 'b']).toContain(readFileSync(join(dest, 'graft.json'), 'utf8'));
      expect(readdirSync(root)).toEqual(['model']);
    }
  });
});

describe('what this process is writing is removed on Ctrl+C (removeUnfinishedWrites), never what is being swapped in', () => {
  it('removes a staging folder not yet swapped in; the writer then fails and the output is as it was', async () => {
    const root = await tempDir();
    const dest = join(root, 'model');
    await mkdir(dest);
    await writeFile(join(dest, 'graft.json'), '{"earlier": true}');
    let removed: readonly string[] = [];
    const writing = writeDirectoryStaged(dest, 'staging', async (staging) => {
      await writeFile(join(staging, 'graft.json'), '{}');
      removeUnfinishedWrites((paths) => (removed = paths)); // as the CLI's signal handler does, then exits
    });
    await expect(writing).rejects.toThrow(/ENOENT/);
    expect(removed).toEqual([expect.stringMatching(/[/\\]model\.staging-\d+-[0-9a-f]{8}$/)]);
    expect(readdirSync(root)).toEqual(['model']);
    expect(readFileSync(join(dest, 'graft.json'), 'utf8')).toBe('{"earlier": true}');
  });

  it('waits for a swap in progress to end, then removes the rest in the same step', async () => {
    const root = await tempDir();
    const swapping = join(root, 'a.staging-1-00000000');
    const unfinished = workingPathFor(join(root, 'b'), 'staging');
    await mkdir(unfinished);
    const endSwap = beginSwap(swapping);
    let removed: readonly string[] | undefined;
    removeUnfinishedWrites((paths) => (removed = paths));
    expect(removed).toBeUndefined();
    expect(existsSync(unfinished)).toBe(true);
    endSwap();
    expect(removed).toEqual([unfinished]);
    expect(existsSync(unfinished)).toBe(false);
  });
});
