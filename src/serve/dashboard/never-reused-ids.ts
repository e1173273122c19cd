import type Database from 'better-sqlite3';

/**
 * The tables whose ids the page links to, as this Graft creates them: AUTOINCREMENT, so a deleted project's or run's
 * id is never given again (its links, downloads and cached thumbnails would show another's).
 */
const TABLES: Readonly<Record<'projects' | 'runs', { readonly columns: string; readonly names: string }>> = {
  projects: {
    columns: 'id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, data_dir TEXT NOT NULL, created TEXT NOT NULL',
    names: 'id, name, data_dir, created',
  },
  runs: {
    columns:
      'id INTEGER PRIMARY KEY AUTOINCREMENT, project_id INTEGER NOT NULL REFERENCES projects(id), status TEXT NOT NULL, ' +
      'options TEXT NOT NULL, model_dir TEXT NOT NULL, metrics TEXT, evaluation TEXT, error TEXT, started TEXT, ended TEXT, created TEXT NOT NULL',
    names: 'id, project_id, status, options, model_dir, metrics, evaluation, error, started, ended, created',
  },
};

/** `CREATE TABLE IF NOT EXISTS` for both tables, for a new store. */
export const CREATE_ID_TABLES = Object.entries(TABLES).map(([name, t]) => `CREATE TABLE IF NOT EXISTS ${name} (${t.columns});`).join('\n');

/**
 * Rebuilds the `projects` and `runs` tables of a store made before Graft 2026-12-06 (plain INTEGER PRIMARY KEY: SQLite
 * gives a deleted last row's id to the next row) as AUTOINCREMENT tables, rows and ids kept, in one transaction.
 * Deleting runs came with that Graft, so an upgraded store reused the id of a run just deleted.
 */
export function migrateToNeverReusedIds(db: Database.Database): void {
  const plain = (db.prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name IN ('projects', 'runs')`).all() as { name: keyof typeof TABLES; sql: string }[])
    .filter((t) => !/\bAUTOINCREMENT\b/i.test(t.sql))
    .map((t) => t.name);
  if (plain.length === 0) return;
  // A table another references cannot be dropped while foreign keys are enforced; the pragma is a no-op inside a
  // transaction, so it is set around it.
  const enforced = db.pragma('foreign_keys', { simple: true }) as number;
  db.pragma('foreign_keys = OFF');
  try {
    db.transaction(() => {
      for (const name of plain) {
        const { columns, names } = TABLES[name];
        db.exec(`CREATE TABLE ${name}_rebuilt (${columns});
          INSERT INTO ${name}_rebuilt (${names}) SELECT ${names} FROM ${name};
          DROP TABLE ${name};
          ALTER TABLE ${name}_rebuilt RENAME TO ${name};`);
      }
    })();
  } finally {
    db.pragma(`foreign_keys = ${enforced ? 'ON' : 'OFF'}`);
  }
}
