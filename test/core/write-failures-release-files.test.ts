import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraftError } from '../../src/core/errors.js';
import { inMemoryRows } from '../../src/features/feature-rows.js';
import { spillRows } from '../../src/features/spill-rows.js';
import { downloadFile } from '../../src/hub/download.js';
import { lockDataDir } from '../../src/serve/dashboard/data-dir-lock.js';
import { hasShared, hymenoptera, tempDir } from '../support.js';

/**
 * Writes that fail for real (this process's file size limit, its file descriptor limit, both lowered with prlimit)
 * must close what they opened at once, not when the garbage collector gets to it, and must not leave a half-made lock
 * that blocks the next run. Counted in /proc/self/fd before and after.
 */
const canLimit = existsSync('/proc/self/fd') && spawnable('prlimit');
const ignoreFileSizeSignal = (): void => undefined;

describe.skipIf(!canLimit || !hasShared)('a write that fails releases its files', () => {
  let root = '';
  let server: Server;
  let url = '';
  const photo = join(hymenoptera, 'train/ants', readdirSync(join(hymenoptera, 'train/ants')).sort()[0]!);
  beforeAll(async () => {
    root = await tempDir('graft-write-failures-');
    // Without this, exceeding the size limit kills the process (SIGXFSZ); ignored, the write fails with EFBIG.
    process.on('SIGXFSZ', ignoreFileSizeSignal);
    server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'image/jpeg' }).end(readFileSync(photo)));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ant.jpg`;
  });
  afterAll(() => {
    process.off('SIGXFSZ', ignoreFileSizeSignal);
    server?.close();
  });

  it('a download lock that cannot be written is closed and removed; the next download takes the lock', async () => {
    const dest = join(root, 'hub', 'ant.jpg');
    const before = openFiles();
    const failed = await underLimit('fsize', 0, () => downloadFile(url, dest)).catch((error: unknown) => error);
    expect(openFiles()).toEqual(before);
    expect(failed).toBeInstanceOf(GraftError);
    expect((failed as GraftError).code).toBe('CACHE_ERROR');
    expect((failed as GraftError).message).toBe(`Cannot write the download lock ${dest}.lock (EFBIG: file too large, write)`);
    expect(existsSync(`${dest}.lock`)).toBe(false);
    // Before: the empty lock stayed, and the next download waited ten minutes for an owner that never was.
    await downloadFile(url, dest, { signal: AbortSignal.timeout(5000) });
    expect(readFileSync(dest).equals(readFileSync(photo))).toBe(true);
  });

  it('a download whose file cannot be written closes it and says which file, not "interrupted"', async () => {
    const dest = join(root, 'hub', 'ant-2.jpg');
    const before = openFiles();
    const failed = await underLimit('fsize', 4096, () => downloadFile(url, dest)).catch((error: unknown) => error);
    expect(openFiles()).toEqual(before);
    expect(failed).toBeInstanceOf(GraftError);
    expect((failed as GraftError).message).toMatch(new RegExp(`^Cannot write ${dest}\\.partial \\(EFBIG: file too large, write\\)`));
    expect(existsSync(`${dest}.lock`)).toBe(false);
  });

  it('a dashboard folder lock that cannot be written is closed and removed; the next graft ui claims the folder', async () => {
    const dataDir = join(root, 'ui');
    execFileSync('mkdir', ['-p', dataDir]);
    const before = openFiles();
    const failed = await underLimit('fsize', 0, async () => lockDataDir(dataDir)).catch((error: unknown) => error);
    expect(openFiles()).toEqual(before);
    expect(failed).toBeInstanceOf(GraftError);
    expect((failed as GraftError).message).toBe(`Cannot claim the dashboard folder ${dataDir}: writing ${join(dataDir, 'graft.lock')} failed (EFBIG: file too large, write)`);
    expect(readdirSync(dataDir)).toEqual([]);
    // Before: the empty lock refused it as "in use by another graft ui (process )".
    const release = lockDataDir(dataDir);
    expect(readFileSync(join(dataDir, 'graft.lock'), 'utf8')).toMatch(new RegExp(`^${process.pid}\\n`));
    release();
    expect(readdirSync(dataDir)).toEqual([]);
  });

  it('spilled rows whose second file cannot be opened close the first and remove their folder', async () => {
    const workDir = join(root, 'spill');
    execFileSync('mkdir', ['-p', workDir]);
    const rows = inMemoryRows(Float32Array.from({ length: 12 }, (_, i) => i), Int32Array.from([0, 1, 0]), 4, ['ants', 'bees']);
    const before = openFiles();
    // One descriptor free: the rows' file opens, the paths' file does not (EMFILE).
    const failed = await underLimit('nofile', () => lowestFreeDescriptors(2)[1]!, async () => spillRows(rows, { workDir })).catch((error: unknown) => error);
    expect(openFiles()).toEqual(before);
    expect(failed).toBeInstanceOf(GraftError);
    expect((failed as GraftError).message).toMatch(/^Cannot write the local copy of the rows in .*graft-rows-[\w-]+ \(EMFILE: too many open files, open '.*paths\.txt'; it needs \d+ MB\)$/);
    expect(readdirSync(workDir)).toEqual([]);
    // And the same rows spill once descriptors are free.
    const spilled = spillRows(rows, { workDir });
    expect(Array.from(spilled.read(2, 1))).toEqual([8, 9, 10, 11]);
    spilled.close();
  });
});

/** This process's open descriptors (the listing's own left out). */
function openFiles(): string[] {
  const dir = '/proc/self/fd';
  return readdirSync(dir).filter((fd) => {
    try {
      return readlinkSync(join(dir, fd)) !== `/proc/${process.pid}/fd`;
    } catch {
      return false; // the listing's own, closed since
    }
  });
}

/** The `count` lowest descriptor numbers not in use. */
function lowestFreeDescriptors(count: number): number[] {
  const used = new Set(openFiles().map(Number));
  const free: number[] = [];
  for (let fd = 0; free.length < count; fd++) if (!used.has(fd)) free.push(fd);
  return free;
}

/**
 * Runs `work` with this process's soft limit on file size (bytes) or open descriptors lowered to `value` (a function:
 * computed once the restorer runs), then restores it. The restoring prlimit is started first: with the descriptors used up, starting it afterwards would
 * fail too.
 */
async function underLimit<T>(resource: 'fsize' | 'nofile', value: number | (() => number), work: () => Promise<T>): Promise<T> {
  const pid = String(process.pid);
  const soft = execFileSync('prlimit', ['--pid', pid, `--${resource}`, '--output=SOFT', '--noheadings', '--raw'], { encoding: 'utf8' }).trim();
  const restorer = spawn('sh', ['-c', `read go; exec prlimit --pid ${pid} --${resource}=${soft}:`], { stdio: ['pipe', 'ignore', 'ignore'] });
  const restored = once(restorer, 'exit');
  execFileSync('prlimit', ['--pid', pid, `--${resource}=${typeof value === 'number' ? value : value()}:`]);
  try {
    return await work();
  } finally {
    restorer.stdin.end('go\n');
    const [code] = (await restored) as [number | null];
    if (code !== 0) throw new Error(`prlimit could not restore the ${resource} limit to ${soft} (exit ${code})`);
  }
}

function spawnable(command: string): boolean {
  try {
    execFileSync(command, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
