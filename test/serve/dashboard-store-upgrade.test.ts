import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { DashboardStore } from '../../src/serve/dashboard/dashboard-store.js';
import { tempDir } from '../support.js';

// dashboard.sqlite as the dashboard-store.ts of bcbf835 (2026-11-28, schema 1) and 718c755 (2026-12-05, schema 2)
// created it: plain INTEGER PRIMARY KEY ids, which SQLite gives again once the last row is deleted.
const SCHEMA_1 = `
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS projects (id INTEGER PRIMARY KEY, name TEXT NOT NULL, data_dir TEXT NOT NULL, created TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL REFERENCES projects(id), status TEXT NOT NULL,
    options TEXT NOT NULL, model_dir TEXT NOT NULL, metrics TEXT, evaluation TEXT, error TEXT,
    started TEXT, ended TEXT, created TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS epochs (
    run_id INTEGER NOT NULL REFERENCES runs(id), epoch INTEGER NOT NULL, loss REAL NOT NULL, acc REAL NOT NULL,
    val_loss REAL, val_acc REAL, PRIMARY KEY (run_id, epoch));
  INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', '1');`;
const SCHEMA_2 = `
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS projects (id INTEGER PRIMARY KEY, name TEXT NOT NULL, data_dir TEXT NOT NULL, created TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL REFERENCES projects(id), status TEXT NOT NULL,
    options TEXT NOT NULL, model_dir TEXT NOT NULL, metrics TEXT, evaluation TEXT, error TEXT,
    started TEXT, ended TEXT, created TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS epochs (
    run_id INTEGER NOT NULL REFERENCES runs(id), epoch INTEGER NOT NULL, loss REAL NOT NULL, acc REAL NOT NULL,
    val_loss REAL, val_acc REAL, phase TEXT NOT NULL DEFAULT 'head', phase_epoch INTEGER, PRIMARY KEY (run_id, epoch));
  INSERT INTO meta (key, value) VALUES ('schema', '2');`;

/** Two projects, the second with two finished runs (the last with two epochs), as an old dashboard left them. */
function writeOldStore(dataDir: string, schema: string): void {
  const db = new Database(join(dataDir, 'dashboard.sqlite'));
  db.exec(schema);
  const options = JSON.stringify({ epochs: 3, hidden: 0, backbone: 'mobilenet_v2' });
  db.prepare('INSERT INTO projects (name, data_dir, created) VALUES (?, ?, ?)').run('ants', '/data/ants', '2026-12-01T00:00:00Z');
  db.prepare('INSERT INTO projects (name, data_dir, created) VALUES (?, ?, ?)').run('bees', '/data/bees', '2026-12-01T00:00:00Z');
  for (const id of [1, 2]) {
    db.prepare(`INSERT INTO runs (project_id, status, options, model_dir, metrics, created) VALUES (2, 'finished', ?, ?, '{"accuracy":0.9}', ?)`).run(options, join(dataDir, 'runs', String(id), 'model'), '2026-12-01T00:00:00Z');
  }
  db.prepare('INSERT INTO epochs (run_id, epoch, loss, acc) VALUES (2, 1, 0.7, 0.5), (2, 2, 0.4, 0.8)').run();
  db.close();
}

describe('a dashboard store written by an earlier Graft', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const [commit, schema] of [['bcbf835', SCHEMA_1], ['718c755', SCHEMA_2]] as const) {
    it(`keeps its projects, runs and epochs, and never gives a deleted run's or project's id again (${commit})`, async () => {
      dir = await tempDir('graft-dashboard-upgrade-');
      writeOldStore(dir, schema);
      const store = DashboardStore.open(dir);
      try {
        expect(store.projects().map((p) => [p.id, p.name])).toEqual([[2, 'bees'], [1, 'ants']]);
        expect(store.runs().map((r) => [r.id, r.status, r.metrics])).toEqual([[2, 'finished', { accuracy: 0.9 }], [1, 'finished', { accuracy: 0.9 }]]);
        expect(store.epochs(2).map((e) => [e.epoch, e.phase, e.loss])).toEqual([[1, 'head', 0.7], [2, 'head', 0.4]]);
        store.deleteRun(2);
        const next = store.createRun(2, { epochs: 3, hidden: 0, backbone: 'mobilenet_v2' }, (id) => join(dir!, 'runs', String(id), 'model'));
        expect(next.id).toBe(3);
        expect(store.epochs(3)).toEqual([]);
        store.deleteProject(2);
        expect(store.createProject('wasps', '/data/wasps').id).toBe(3);
      } finally {
        store.close();
      }
      // Opened again: nothing left to rebuild, the ids still move on.
      const again = DashboardStore.open(dir);
      try {
        expect(again.createProject('moths', '/data/moths').id).toBe(4);
      } finally {
        again.close();
      }
    });
  }
});

describe('a dashboard store written by a newer Graft', () => {
  it('is refused, naming the file and both schema versions, and left as it was', async () => {
    const dir = await tempDir('graft-dashboard-newer-');
    try {
      DashboardStore.open(dir).close();
      const file = join(dir, 'dashboard.sqlite');
      const db = new Database(file);
      db.prepare(`UPDATE meta SET value = '99' WHERE key = 'schema'`).run();
      db.close();
      const error = (() => {
        try {
          DashboardStore.open(dir).close();
        } catch (e) {
          return e;
        }
        return undefined;
      })() as { code?: string; message?: string; hint?: string } | undefined;
      expect(error).toMatchObject({ code: 'INVALID_CONFIG', message: `${file} was written by a newer Graft (dashboard store schema 99; this Graft reads up to 2).` });
      expect(error?.hint).toMatch(/upgrade Graft/);
      const after = new Database(file, { readonly: true });
      expect((after.prepare(`SELECT value FROM meta WHERE key = 'schema'`).get() as { value: string }).value).toBe('99');
      after.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
