import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ServeError } from '../serve-error.js';
import { classCounts } from './class-counts.js';
import type { DataRoots } from './data-roots.js';
import type { DashboardStore, ProjectRecord, RunRecord } from './dashboard-store.js';
import { maxEpochs, type RunQueue } from './run-queue.js';
import { RunModels } from './run-models.js';
import { TeachableMachineZips } from './teachable-machine-zips.js';

/** What the dashboard's route files share: its store, queue and folders, and the lookups every route needs. */
export class DashboardContext {
  /** Finished runs' models as Teachable Machine zips, made on the first download. */
  readonly teachableMachineZips = new TeachableMachineZips();

  constructor(
    readonly store: DashboardStore,
    readonly queue: RunQueue,
    /** The dashboard's own folder (store, uploads, run outputs), absolute. */
    readonly dataDir: string,
    /** Where projects from server folders may come from (`--data-root`). */
    readonly dataRoots: DataRoots,
    /** Finished runs' models loaded to be tried from the page. */
    readonly runModels: RunModels = new RunModels(),
  ) {}

  /** Where an upload project keeps its images: `<dataDir>/projects/<id>`. */
  uploadDir(id: number): string {
    return join(this.dataDir, 'projects', String(id));
  }

  /** Upload files arrive here first (same file system as the projects, outside all of them). */
  get stagingDir(): string {
    return join(this.dataDir, 'staging');
  }

  isUploadProject(project: ProjectRecord): boolean {
    return resolve(project.dataDir) === this.uploadDir(project.id);
  }

  /** Whether the project's folder may still be read: its own upload folder, or a folder inside a data root. */
  async mayRead(project: ProjectRecord): Promise<boolean> {
    return this.isUploadProject(project) || (await this.dataRoots.contains(project.dataDir));
  }

  /** The folders a project's images may be read from: the data roots for a folder project, none needed for uploads. */
  confinementOf(project: ProjectRecord): readonly string[] | undefined {
    return this.isUploadProject(project) ? undefined : this.dataRoots.roots;
  }

  /** Whether a file (e.g. a stored misclassified image) lies where this project may read. */
  async mayReadFile(project: ProjectRecord, file: string): Promise<boolean> {
    if (!this.isUploadProject(project)) return this.dataRoots.contains(file);
    const rel = relative(this.uploadDir(project.id), resolve(file));
    return rel !== '' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
  }

  projectOr404(id: string): ProjectRecord {
    const project = /^\d{1,15}$/.test(id) ? this.store.project(Number(id)) : undefined;
    if (!project) throw new ServeError('NOT_FOUND', `No project ${id.slice(0, 40)}.`, { hint: 'GET /v1/projects lists them' });
    return project;
  }

  runOr404(id: string): RunRecord {
    const run = /^\d{1,15}$/.test(id) ? this.store.run(Number(id)) : undefined;
    if (!run) throw new ServeError('NOT_FOUND', `No run ${id.slice(0, 40)}.`, { hint: 'GET /v1/projects/:id lists its runs' });
    return run;
  }

  async describeProject(project: ProjectRecord): Promise<Record<string, unknown>> {
    const isReadable = await this.mayRead(project);
    return {
      ...project,
      acceptsUploads: this.isUploadProject(project),
      // A folder project from a data root the server no longer has: shown, never read.
      isReadable,
      ...(isReadable ? await classCounts(project.dataDir, this.confinementOf(project)) : { classes: [], skipped: 0 }),
      runs: this.store.runs(project.id).map((r) => this.describeRun(r)),
    };
  }

  describeRun(run: RunRecord): Record<string, unknown> {
    return { ...run, maxEpochs: maxEpochs(run), epochs: this.store.epochs(run.id) };
  }
}
