// Two processes writing one feature store, and one killed mid-write: Graft's own writer (the built dist/) in the
// children, so these test FeatureStore.putMany's transaction and busy timeout, not a copy of them.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FEATURE_STORE_FILE, FeatureStore } from '../../src/features/feature-store.js';

const WRITER = fileURLToPath(new URL('../fixtures/feature-writer.mjs', import.meta.url));

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'graft-features-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function rawDb(): Database.Database {
  return new Database(path.join(dir, FEATURE_STORE_FILE), { timeout: 10_000 });
}

/** SQLite's own check of the whole file. */
function expectSoundFile(): void {
  const db = rawDb();
  try {
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
  } finally {
    db.close();
  }
}

/** Runs the writer fixture to completion. */
function runWriter(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, dir, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`writer exited ${code}: ${stderr}`))));
  });
}

describe('FeatureStore written by several processes', () => {
  it('two processes writing at once: all rows arrive and the file stays consistent', async () => {
    FeatureStore.open(dir).close(); // creates the schema; the children only insert
    // 20 batches of 100 rows each, 2000 rows per child. Both hold their first write until the same instant, so
    // their transactions interleave (each waits on the other's lock through busy_timeout) rather than run in turn.
    const startAt = String(Date.now() + 500);
    await Promise.all([
      runWriter(['child-a', '20', '100', '256', startAt]),
      runWriter(['child-b', '20', '100', '256', startAt]),
    ]);

    const store = FeatureStore.open(dir);
    try {
      expect(store.count()).toBe(4000);
      expect(store.count('child-a')).toBe(2000);
      expect(store.count('child-b')).toBe(2000);
      const got = store.getMany(['child-a:19:99', 'child-b:7:3']);
      expect(got.get('child-a:19:99')![255]).toBe(19 * 1000 + 99 + 255 / 256);
      expect(got.get('child-b:7:3')![0]).toBe(7003);
    } finally {
      store.close();
    }
    expectSoundFile();
  });

  it('a writer killed with SIGKILL mid-write leaves only whole batches and a sound file', async () => {
    FeatureStore.open(dir).close();
    const child = spawn(process.execPath, [WRITER, dir, 'killed', 'loop', '2000', '1280'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    // Wait for the first commit (the child is really writing), then kill it ~300 ms later, mid-batch.
    await new Promise<void>((resolve, reject) => {
      child.stdout.once('data', () => resolve());
      child.once('exit', () => reject(new Error(`writer exited before writing: ${stderr}`)));
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    const store = FeatureStore.open(dir);
    let keys: string[];
    try {
      const n = store.count('killed');
      expect(n).toBeGreaterThan(0);
      expect(n % 2000).toBe(0);
      keys = rawKeys();
      const perBatch = new Map<string, number>();
      for (const key of keys) {
        const batch = key.split(':')[1]!;
        perBatch.set(batch, (perBatch.get(batch) ?? 0) + 1);
      }
      expect([...perBatch.values()].every((count) => count === 2000)).toBe(true);
      // every row that is there reads back whole
      expect(store.getMany(keys).size).toBe(n);
    } finally {
      store.close();
    }
    expectSoundFile();
  });
});

function rawKeys(): string[] {
  const db = rawDb();
  try {
    return db
      .prepare<[], { key: string }>("SELECT key FROM features WHERE model = 'killed'")
      .all()
      .map((row) => row.key);
  } finally {
    db.close();
  }
}
