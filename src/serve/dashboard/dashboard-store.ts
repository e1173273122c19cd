import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { EpochLogs, TrainPhase } from '../../core/progress.js';
import { GraftError } from '../../core/errors.js';
import type { UnfreezeText } from '../../core/training-config.js';
import { CREATE_ID_TABLES, migrateToNeverReusedIds } from './never-reused-ids.js';
import { projectNameKey, projectNameTaken, tidyProjectName } from './project-name.js';
import { makeDirectorySync } from '../../core/make-directory.js';

/**
 * A run's life: queued -> running -> finished | failed | cancelled (a user cancelled it, queued or running);
 * a run that was queued or running when the server stopped is `interrupted`.
 */
export type RunStatus = 'queued' | 'running' | 'finished' | 'failed' | 'cancelled' | 'interrupted';

/** Statuses a run never leaves. */
export const TERMINAL_STATUSES: readonly RunStatus[] = ['finished', 'failed', 'cancelled', 'interrupted'];

export function isTerminalStatus(status: string): boolean {
  return (TERMINAL_STATUSES as readonly string[]).includes(status);
}

export interface ProjectRecord {
  readonly id: number;
  readonly name: string;
  /** Absolute folder of class sub-folders (or train/ + val/). */
  readonly dataDir: string;
  readonly created: string;
}

/** What a user asked for when starting a run (the options of `train`, as JSON). */
export interface RunOptions {
  readonly epochs: number;
  /** Units of the head's one hidden layer; 0 is the linear head, chosen by cross-validation (the default). */
  readonly hidden: number;
  readonly backbone: string;
  /** Used instead when `backbone` (the default, not asked for) cannot be had: the run then records a warning. */
  readonly fallbackBackbone?: string;
  /** Fine-tune the backbone's top after the head phase; absent (runs stored before it existed too) = head only. */
  readonly fineTune?: RunFineTuneOptions;
  /** Try each training image's corner crops as extra rows (`--crops auto`); absent = off, the default. */
  readonly crops?: true;
}

/** The fine-tuning options the dashboard offers (the rest of FineTuneConfig keeps its defaults). */
export interface RunFineTuneOptions {
  /** `last:<N>` blocks or `all`. */
  readonly unfreeze: UnfreezeText;
  readonly epochs: number;
  /** Augmented views per training image (0 = none). */
  readonly views: number;
  readonly classWeights: 'none' | 'balanced';
}

export interface RunRecord {
  readonly id: number;
  readonly projectId: number;
  readonly status: RunStatus;
  readonly options: RunOptions;
  readonly modelDir: string;
  /** Validation metrics and timings when finished (TrainResult's summary). */
  readonly metrics: Record<string, unknown> | null;
  readonly error: string | null;
  readonly started: string | null;
  readonly ended: string | null;
  readonly created: string;
}

/**
 * One epoch of a run. `epoch` counts on across both phases (1, 2, ... head epochs, then fine-tuning's), so it is
 * the index in the model's metrics.history; `phaseEpoch` is the epoch within its phase (fine-tuning restarts at 1).
 */
export interface EpochRecord extends EpochLogs {
  readonly epoch: number;
  readonly phase: TrainPhase;
  readonly phaseEpoch: number;
}

interface RunRow {
  id: number;
  project_id: number;
  status: RunStatus;
  options: string;
  model_dir: string;
  metrics: string | null;
  error: string | null;
  started: string | null;
  ended: string | null;
  created: string;
}

/** 1: first version. 2: epochs gain `phase` and `phase_epoch` (runs of version 1 were head-only); status `cancelled`. */
const SCHEMA_VERSION = 2;

/** The store's file in the dashboard's folder: it also marks a folder as one `graft ui` made. */
export const DASHBOARD_STORE_FILE = 'dashboard.sqlite';

/**
 * The dashboard's projects, runs and per-epoch metrics in one SQLite file (`<dataDir>/dashboard.sqlite`).
 * Opening the store marks runs left `running` or `queued` by a previous process as `interrupted`: nothing is
 * training them any more, and the page must not say otherwise.
 */
export class DashboardStore {
  private readonly db: Database.Database;

  private constructor(db: Database.Database) {
    this.db = db;
  }

  /**
   * @throws GraftError INVALID_CONFIG naming the file when it cannot be opened or read as a dashboard store (another
   *   file in its place, a read-only folder or file), or when a newer Graft wrote it.
   */
  static open(dataDir: string): DashboardStore {
    const file = join(dataDir, DASHBOARD_STORE_FILE);
    try {
      return DashboardStore.openFile(dataDir, file);
    } catch (cause) {
      if (cause instanceof GraftError) throw cause;
      throw new GraftError('INVALID_CONFIG', `${file} is not a usable dashboard store (${(cause as Error).message})`, {
        hint: 'move the file aside to start a new store, fix its permissions, or pass another --data-dir',
        cause,
      });
    }
  }

  private static openFile(dataDir: string, file: string): DashboardStore {
    makeDirectorySync(dataDir);
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    // A store a newer Graft wrote is left as it is: this one would rewrite its schema mark and read it by old rules.
    const written = Number((db.prepare(`SELECT value FROM meta WHERE key = 'schema'`).get() as { value: string } | undefined)?.value ?? 0);
    if (written > SCHEMA_VERSION) {
      db.close();
      throw new GraftError('INVALID_CONFIG', `${file} was written by a newer Graft (dashboard store schema ${written}; this Graft reads up to ${SCHEMA_VERSION}).`, {
        hint: 'upgrade Graft, or pass another --data-dir for this version',
      });
    }
    // Ids are never given again (never-reused-ids.ts); a store made before gets its tables rebuilt so.
    db.exec(`
      ${CREATE_ID_TABLES}
      CREATE TABLE IF NOT EXISTS epochs (
        run_id INTEGER NOT NULL REFERENCES runs(id), epoch INTEGER NOT NULL, loss REAL NOT NULL, acc REAL NOT NULL,
        val_loss REAL, val_acc REAL, phase TEXT NOT NULL DEFAULT 'head', phase_epoch INTEGER, PRIMARY KEY (run_id, epoch));
    `);
    migrateToNeverReusedIds(db);
    // A version-1 file: add the phase columns; its epochs were all head epochs, numbered within the one phase.
    const epochColumns = (db.prepare('PRAGMA table_info(epochs)').all() as { name: string }[]).map((c) => c.name);
    if (!epochColumns.includes('phase')) db.exec(`ALTER TABLE epochs ADD COLUMN phase TEXT NOT NULL DEFAULT 'head'`);
    if (!epochColumns.includes('phase_epoch')) db.exec('ALTER TABLE epochs ADD COLUMN phase_epoch INTEGER');
    db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run('schema', String(SCHEMA_VERSION));
    const now = new Date().toISOString();
    db.prepare(`UPDATE runs SET status = 'interrupted', ended = ?, error = COALESCE(error, 'the server stopped before this run ended') WHERE status IN ('running', 'queued')`).run(now);
    return new DashboardStore(db);
  }

  /**
   * Stores a new project under its tidy name (project-name.ts). The check and the insert are one synchronous step, and
   * one server holds a store (graft.lock), so two requests for one name cannot both pass. Projects stored before names
   * were unique keep theirs; a new one may not repeat any of them.
   * @throws ServeError `CONFLICT` when another project has the name (case and spaces aside), `BAD_REQUEST` for a blank one.
   */
  createProject(name: string, dataDir: string): ProjectRecord {
    const tidy = tidyProjectName(name);
    const taken = this.projectNamed(tidy);
    if (taken) throw projectNameTaken(tidy, taken);
    const created = new Date().toISOString();
    const info = this.db.prepare('INSERT INTO projects (name, data_dir, created) VALUES (?, ?, ?)').run(tidy, dataDir, created);
    return { id: Number(info.lastInsertRowid), name: tidy, dataDir, created };
  }

  /** A project whose name is `name`'s, case and spaces aside (projectNameKey). */
  projectNamed(name: string): ProjectRecord | undefined {
    const key = projectNameKey(name);
    return this.projects().find((p) => projectNameKey(p.name) === key);
  }

  /** Points a project at its data folder (an upload project's folder is only known once its id is). */
  setProjectDataDir(id: number, dataDir: string): void {
    this.db.prepare('UPDATE projects SET data_dir = ? WHERE id = ?').run(dataDir, id);
  }

  projects(): ProjectRecord[] {
    const rows = this.db.prepare('SELECT id, name, data_dir, created FROM projects ORDER BY id DESC').all() as { id: number; name: string; data_dir: string; created: string }[];
    return rows.map((r) => ({ id: r.id, name: r.name, dataDir: r.data_dir, created: r.created }));
  }

  project(id: number): ProjectRecord | undefined {
    return this.projects().find((p) => p.id === id);
  }

  createRun(projectId: number, options: RunOptions, modelDirFor: (id: number) => string): RunRecord {
    const created = new Date().toISOString();
    const insert = this.db.transaction(() => {
      const info = this.db.prepare(`INSERT INTO runs (project_id, status, options, model_dir, created) VALUES (?, 'queued', ?, '', ?)`).run(projectId, JSON.stringify(options), created);
      const id = Number(info.lastInsertRowid);
      this.db.prepare('UPDATE runs SET model_dir = ? WHERE id = ?').run(modelDirFor(id), id);
      return id;
    });
    return this.run(insert())!;
  }

  run(id: number): RunRecord | undefined {
    const row = this.db.prepare('SELECT * FROM runs WHERE id = ?').get(id) as RunRow | undefined;
    return row && toRun(row);
  }

  runs(projectId?: number): RunRecord[] {
    const rows = (projectId === undefined
      ? this.db.prepare('SELECT * FROM runs ORDER BY id DESC').all()
      : this.db.prepare('SELECT * FROM runs WHERE project_id = ? ORDER BY id DESC').all(projectId)) as RunRow[];
    return rows.map(toRun);
  }

  markRunning(id: number): void {
    this.db.prepare(`UPDATE runs SET status = 'running', started = ? WHERE id = ?`).run(new Date().toISOString(), id);
  }

  markFinished(id: number, metrics: Record<string, unknown>): void {
    this.db.prepare(`UPDATE runs SET status = 'finished', metrics = ?, ended = ? WHERE id = ?`).run(JSON.stringify(metrics), new Date().toISOString(), id);
  }

  markFailed(id: number, error: string): void {
    this.db.prepare(`UPDATE runs SET status = 'failed', error = ?, ended = ? WHERE id = ?`).run(error, new Date().toISOString(), id);
  }

  /** A user cancelled the run (queued or running); `note` says what became of it. */
  markCancelled(id: number, note: string): void {
    this.db.prepare(`UPDATE runs SET status = 'cancelled', error = ?, ended = ? WHERE id = ?`).run(note, new Date().toISOString(), id);
  }

  /** The server stopped before the run ended (it is never resumed); `reason` says when. */
  markInterrupted(id: number, reason: string): void {
    this.db.prepare(`UPDATE runs SET status = 'interrupted', error = ?, ended = ? WHERE id = ?`).run(reason, new Date().toISOString(), id);
  }

  /**
   * Stores one epoch of a phase and returns its record. Head epochs keep their number; a fine-tuning epoch comes
   * after every epoch already stored for the run (its number restarts at 1 in the phase, not in the store).
   */
  addEpoch(runId: number, phase: TrainPhase, phaseEpoch: number, logs: EpochLogs): EpochRecord {
    const epoch = phase === 'head'
      ? phaseEpoch
      : ((this.db.prepare(`SELECT MAX(epoch) AS last FROM epochs WHERE run_id = ? AND phase = 'head'`).get(runId) as { last: number | null }).last ?? 0) + phaseEpoch;
    this.db
      .prepare('INSERT OR REPLACE INTO epochs (run_id, epoch, loss, acc, val_loss, val_acc, phase, phase_epoch) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(runId, epoch, logs.loss, logs.acc, logs.val_loss ?? null, logs.val_acc ?? null, phase, phaseEpoch);
    return toEpoch({ epoch, phase, phase_epoch: phaseEpoch, loss: logs.loss, acc: logs.acc, val_loss: logs.val_loss ?? null, val_acc: logs.val_acc ?? null });
  }

  epochs(runId: number): EpochRecord[] {
    const rows = this.db.prepare('SELECT epoch, phase, phase_epoch, loss, acc, val_loss, val_acc FROM epochs WHERE run_id = ? ORDER BY epoch').all(runId) as EpochRow[];
    return rows.map(toEpoch);
  }

  /** Removes a project with its runs and their epochs, in one transaction; returns the runs removed (their folders are the caller's). */
  deleteProject(id: number): RunRecord[] {
    return this.db.transaction(() => {
      const runs = this.runs(id);
      this.db.prepare('DELETE FROM epochs WHERE run_id IN (SELECT id FROM runs WHERE project_id = ?)').run(id);
      this.db.prepare('DELETE FROM runs WHERE project_id = ?').run(id);
      this.db.prepare('DELETE FROM projects WHERE id = ?').run(id);
      return runs;
    })();
  }

  /** Removes one run and its epochs, in one transaction (its folder is the caller's). */
  deleteRun(id: number): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM epochs WHERE run_id = ?').run(id);
      this.db.prepare('DELETE FROM runs WHERE id = ?').run(id);
    })();
  }

  /** The stored evaluation (JSON), so thumbnail indexes stay stable across requests and restarts. */
  evaluation(runId: number): unknown {
    const row = this.db.prepare('SELECT evaluation FROM runs WHERE id = ?').get(runId) as { evaluation: string | null } | undefined;
    return row?.evaluation ? JSON.parse(row.evaluation) : undefined;
  }

  saveEvaluation(runId: number, evaluation: unknown): void {
    this.db.prepare('UPDATE runs SET evaluation = ? WHERE id = ?').run(JSON.stringify(evaluation), runId);
  }

  close(): void {
    this.db.close();
  }
}

interface EpochRow {
  epoch: number;
  phase: string;
  phase_epoch: number | null;
  loss: number;
  acc: number;
  val_loss: number | null;
  val_acc: number | null;
}

function toEpoch(r: EpochRow): EpochRecord {
  return {
    epoch: r.epoch,
    phase: r.phase === 'fine-tune' ? 'fine-tune' : 'head',
    phaseEpoch: r.phase_epoch ?? r.epoch,
    loss: r.loss,
    acc: r.acc,
    ...(r.val_loss === null ? {} : { val_loss: r.val_loss }),
    ...(r.val_acc === null ? {} : { val_acc: r.val_acc }),
  };
}

function toRun(row: RunRow): RunRecord {
  return {
    id: row.id,
    projectId: row.project_id,
    status: row.status,
    options: JSON.parse(row.options) as RunOptions,
    modelDir: row.model_dir,
    metrics: row.metrics ? (JSON.parse(row.metrics) as Record<string, unknown>) : null,
    error: row.error,
    started: row.started,
    ended: row.ended,
    created: row.created,
  };
}
