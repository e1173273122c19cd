import type { MirrorRule } from '../../hub/mirror.js';
import { rmSync } from 'node:fs';
import { removeOrphanedSiblings } from '../../core/atomic-write.js';
import { isWithin } from '../../core/is-within.js';
import { lockDataDir } from './data-dir-lock.js';
import { assertDashboardFolder } from './dashboard-folder.js';
import { readFile } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { GraftError } from '../../core/errors.js';
import { defaultCacheDir } from '../../core/cache-dir.js';
import { LABELS_NOT_CHECKED, labelIssuesCaveat } from '../../core/selection-report.js';
import { CATALOGUE_NAMES, DEFAULT_BACKBONE, isCatalogueName } from '../../hub/catalogue.js';
import { thumbnailJpeg } from '../../report/thumbnail.js';
import { ServeError } from '../serve-error.js';
import { classCounts } from './class-counts.js';
import { DashboardContext } from './dashboard-context.js';
import { DashboardStore, isTerminalStatus, type ProjectRecord, type RunFineTuneOptions } from './dashboard-store.js';
import { registerDashboardPage } from './dashboard-page.js';
import { DataRoots } from './data-roots.js';
import { notReadable, registerProjectRoutes } from './project-routes.js';
import { registerRunFileRoutes } from './run-file-routes.js';
import { registerLabelIssueRoutes } from './label-issue-routes.js';
import { registerRunPredictRoute, type RunPredictLimits } from './run-predict-route.js';
import { removeLeftoverRunFolders } from './run-files.js';
import { epochEvent, RunQueue, type DashboardEvent, type LabelFix, type RunEvent, type StoredEvaluation } from './run-queue.js';
import { definedOnly } from '../../core/defined-only.js';
import { checkpointFiles } from '../../learn/checkpoint.js';
import { makeDirectorySync } from '../../core/make-directory.js';

/** Options of {@link registerDashboardRoutes}. */
export interface DashboardOptions {
  /** Where the SQLite store, uploaded images and trained models live. Created when missing; an existing folder must be empty or one the dashboard made. */
  readonly dataDir: string;
  /** Feature and backbone cache for training. Defaults to the user's cache folder (~/.cache/graft; the CLI passes GRAFT_CACHE_DIR). */
  readonly cacheDir?: string;
  /** Never download a backbone. Defaults to false: runs get the default backbone as `graft train` does (downloaded once, cached). */
  readonly offline?: boolean;
  /** Folders searched for catalogue backbones before downloading, and hub mirrors (the CLI passes its environment's). */
  readonly modelDirs?: readonly string[];
  readonly mirrors?: readonly MirrorRule[];
  /** Folder of the page's files. Defaults to the package's src/web/dashboard (see dashboardWebRoot). */
  readonly webRoot?: string;
  /**
   * Folders on the server that projects may be created from (`--data-root`). A client can name a folder inside
   * one of them and nothing else. None by default: projects then come from uploads only.
   */
  readonly dataRoots?: readonly string[];
  /** Limits of trying a finished run's model on images (`POST /v1/runs/:id/predict`). Default: 20 MB, 40 megapixels. */
  readonly predictLimits?: RunPredictLimits;
  /** A run the store could not record (the CLI prints it). Defaults to a line on stderr. */
  readonly onEvent?: (event: DashboardEvent) => void;
}

/** The dashboard's paths: its page and its API. They always need the server's token (see SECURITY.md). */
export function isDashboardPath(path: string): boolean {
  return /^\/(dashboard(\/|$)|v1\/(projects|runs|data-roots)(\/|$))/.test(path);
}

/** What registration hands back: the store (for tests and the CLI) and a close that interrupts the current run. */
export interface DashboardHandle {
  readonly store: DashboardStore;
  readonly queue: RunQueue;
}

const EPOCHS_MAX = 500;
const FINE_TUNE_EPOCHS_MAX = 100;
/** The dashboard's fine-tuning defaults: DEFAULT_FINE_TUNE's values for the options it offers. */
const FINE_TUNE_DEFAULTS: RunFineTuneOptions = { unfreeze: 'last:3', epochs: 6, views: 2, classWeights: 'balanced' };

/**
 * The training dashboard's JSON API and page: projects (from a folder or uploads), runs trained in-process one
 * at a time, live progress as server-sent events, and each finished run's evaluation with thumbnails.
 * Needs @fastify/multipart registered on `app` (startServer does) for image uploads. Closing `app` stops the
 * queue (interrupting the current run) and closes the store.
 */
export function registerDashboardRoutes(app: FastifyInstance, options: DashboardOptions): DashboardHandle {
  const dataDir = resolve(options.dataDir);
  const dataRoots = new DataRoots(options.dataRoots ?? []);
  assertDashboardFolder(dataDir);
  // One server per folder: a second would take the first one's running run for an interrupted one.
  makeDirectorySync(dataDir);
  const unlock = lockDataDir(dataDir);
  let store: DashboardStore;
  try {
    store = DashboardStore.open(dataDir);
  } catch (error) {
    unlock();
    throw error;
  }
  // Files of uploads cut off by a crash or a kill: never part of any project.
  rmSync(join(dataDir, 'staging'), { recursive: true, force: true });
  // Runs the last server left interrupted are never resumed: the folder of one without a model goes whole (a kill -9
  // left it); otherwise its fine-tuning checkpoints (tens of MB) go, as a cancelled run's do, and so does a model
  // folder a kill left half staged.
  removeLeftoverRunFolders(store.runs(), dataDir);
  // Only in this folder: a store copied from another data folder names that folder's runs.
  for (const run of store.runs().filter((r) => r.status === 'interrupted' && isWithin(r.modelDir, dataDir))) {
    for (const file of checkpointFiles(`${run.modelDir}.checkpoint`)) rmSync(file, { force: true });
    void removeOrphanedSiblings(run.modelDir).catch(() => undefined);
  }
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const queue: RunQueue = new RunQueue({
    store,
    dataDir,
    cacheDir,
    offline: options.offline ?? false,
    modelDirs: options.modelDirs ?? [],
    mirrors: options.mirrors ?? [],
    // A folder project reads nothing a link leads out of the data roots to; an upload project's files are the server's.
    confineTo: (project: ProjectRecord): readonly string[] | undefined => ctx.confinementOf(project),
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
  });
  const ctx: DashboardContext = new DashboardContext(store, queue, dataDir, dataRoots);
  const streams = new Set<FastifyReply>();
  // Event streams never end by themselves: they are ended before the server waits for its connections to close.
  app.addHook('preClose', async () => {
    for (const reply of streams) reply.raw.end();
  });
  app.addHook('onClose', async () => {
    ctx.runModels.close();
    await queue.close();
    store.close();
    unlock();
  });
  registerDashboardPage(app, options.webRoot);
  const predictLimits = options.predictLimits ?? { maxUploadBytes: 20 * 1024 * 1024, maxPixels: 40_000_000 };
  registerProjectRoutes(app, ctx, predictLimits.maxPixels);
  registerRunFileRoutes(app, ctx);
  registerLabelIssueRoutes(app, ctx);
  registerRunPredictRoute(app, ctx, predictLimits);
  const runOr404 = (id: string) => ctx.runOr404(id);

  app.post('/v1/projects/:id/runs', {
    // No body is a run with the defaults, as {} is.
    preValidation: async (request) => {
      request.body ??= {};
    },
    schema: {
      body: {
        type: 'object',
        additionalProperties: false,
        properties: {
          epochs: { type: 'integer', minimum: 1, maximum: EPOCHS_MAX },
          hidden: { type: 'integer', minimum: 0, maximum: 4096 },
          backbone: { type: 'string', minLength: 1 },
          // true = cross-validate corner-crop rows too (`--crops auto`); slower, so off unless asked.
          crops: { type: 'boolean' },
          // Present = fine-tune the backbone's top after the head phase; each option left out takes its default.
          fineTune: {
            type: 'object',
            additionalProperties: false,
            properties: {
              unfreeze: { type: 'string', pattern: '^(all|last:[1-9][0-9]?)$' },
              epochs: { type: 'integer', minimum: 1, maximum: FINE_TUNE_EPOCHS_MAX },
              views: { type: 'integer', minimum: 0, maximum: 16 },
              classWeights: { type: 'string', enum: ['none', 'balanced'] },
            },
          },
        },
      },
    },
  }, async (request, reply) => {
    const project = ctx.projectOr404((request.params as { id: string }).id);
    if (!(await ctx.mayRead(project))) throw notReadable(project);
    const body = (request.body ?? {}) as { epochs?: number; hidden?: number; backbone?: string; crops?: boolean; fineTune?: Partial<RunFineTuneOptions> };
    if (body.backbone !== undefined && !isCatalogueName(body.backbone)) {
      throw new GraftError('INVALID_CONFIG', `Unknown backbone. Received: backbone=${JSON.stringify(body.backbone)}`, { hint: `one of ${CATALOGUE_NAMES.join(', ')}` });
    }
    const counts = await classCounts(project.dataDir, ctx.confinementOf(project));
    if (counts.classes.length < 2) {
      throw new GraftError('INVALID_DATASET', `Project ${project.id} has ${counts.classes.length} class(es) with images; training needs at least 2.`, {
        hint: 'upload images for at least two classes',
      });
    }
    // The linear head (the default) picks its regularisation by cross-validation, which needs two images a class:
    // refused now, not as a failed run a few seconds later.
    const single = (body.hidden ?? 0) === 0 ? counts.classes.filter((c) => c.count < 2) : [];
    if (single.length) {
      throw new GraftError('INVALID_DATASET', `Class${single.length === 1 ? '' : 'es'} ${single.map((c) => JSON.stringify(c.label)).join(', ')} of project ${project.id} ${single.length === 1 ? 'has' : 'have'} one image; cross-validation needs at least 2 in every class.`, {
        hint: 'upload another image of each, or remove the class',
      });
    }
    // The CLI's default backbone, downloaded if need be; the bundled one only when it cannot be had (the run says so).
    const backbone = body.backbone ?? DEFAULT_BACKBONE;
    const fineTune = body.fineTune && { ...FINE_TUNE_DEFAULTS, ...definedOnly(body.fineTune) };
    const run = store.createRun(
      project.id,
      { epochs: body.epochs ?? 30, hidden: body.hidden ?? 0, backbone, ...(body.backbone === undefined ? { fallbackBackbone: BUNDLED_BACKBONE } : {}), ...(fineTune ? { fineTune } : {}), ...(body.crops ? { crops: true as const } : {}) },
      (id) => join(dataDir, 'runs', String(id), 'model'),
    );
    queue.enqueue(run.id);
    return reply.code(201).send(ctx.describeRun(run));
  });

  app.get('/v1/runs/:id', async (request) => ctx.describeRun(runOr404((request.params as { id: string }).id)));

  /**
   * Cancels a queued run (it never starts) or a running one (training stops at the next batch; no model is kept).
   * 200 with the run once it is `cancelled`; 202 when a running run was told to stop but has not yet (its events
   * stream says when it has); 409 when the run already ended.
   */
  app.post('/v1/runs/:id/cancel', async (request, reply) => {
    const run = runOr404((request.params as { id: string }).id);
    if (isTerminalStatus(run.status)) {
      throw new ServeError('CONFLICT', `Run ${run.id} is already ${run.status}; only a queued or running run can be cancelled.`, { hint: 'start a new run instead' });
    }
    const outcome = await queue.cancel(run.id);
    if (outcome === 'not-active') {
      // Stored as queued or running, yet not in the queue (it was closing): nothing trains it, so say so.
      store.markCancelled(run.id, 'it never started');
    }
    return reply.code(outcome === 'stopping' ? 202 : 200).send(ctx.describeRun(store.run(run.id)!));
  });

  app.get('/v1/runs/:id/events', async (request, reply) => {
    const run = runOr404((request.params as { id: string }).id);
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    const send = (event: RunEvent): void => {
      raw.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
    };
    // Replay and subscribe in one synchronous step (the store is synchronous), so no event falls in between.
    const current = store.run(run.id)!;
    for (const e of store.epochs(run.id)) send(epochEvent(current, e));
    send({ type: 'status', status: current.status, error: current.error });
    if (isTerminalStatus(current.status)) {
      raw.end();
      return;
    }
    streams.add(reply);
    const keepAlive = setInterval(() => raw.write(': keep-alive\n\n'), 15_000);
    const stop = (): void => {
      clearInterval(keepAlive);
      unsubscribe();
      streams.delete(reply);
    };
    const unsubscribe = queue.listen(run.id, (event) => {
      send(event);
      if (event.type === 'status' && isTerminalStatus(event.status)) {
        stop();
        raw.end();
      }
    });
    raw.on('close', stop);
  });

  app.get('/v1/runs/:id/evaluation', async (request) => {
    const run = runOr404((request.params as { id: string }).id);
    const evaluation = store.evaluation(run.id) as StoredEvaluation | undefined;
    if (!evaluation) {
      // A run is evaluated as it finishes; a finished one without an evaluation was stored some other way (an
      // earlier Graft's store, a copy of one): waiting will not bring one.
      const hint = run.status === 'finished' ? 'this run was stored without one: start the run again to have one' : 'a run is evaluated when it finishes';
      throw new ServeError('NOT_FOUND', `Run ${run.id} has no evaluation (status: ${run.status}).`, { hint });
    }
    const selection = run.metrics?.selection as { chosen: { accuracy: number }; classWeighted?: boolean } | null | undefined;
    const labelIssuesNote = evaluation.labelIssues?.length ? labelIssuesCaveat(selection) : selection === null ? `Labels ${LABELS_NOT_CHECKED}.` : undefined;
    const project = store.project(run.projectId);
    return {
      run: run.id,
      dataset: evaluation.dataset,
      onTrainingImages: evaluation.onTrainingImages ?? false,
      count: evaluation.count,
      accuracy: evaluation.accuracy,
      ...(evaluation.accuracyInterval ? { accuracyInterval: evaluation.accuracyInterval } : {}),
      labels: evaluation.labels,
      confusion: evaluation.confusion,
      perClass: evaluation.perClass,
      ...(evaluation.balancedAccuracy !== undefined ? { balancedAccuracy: evaluation.balancedAccuracy } : {}),
      ...(evaluation.mostConfused ? { mostConfused: evaluation.mostConfused } : {}),
      ...(evaluation.calibration ? { calibration: evaluation.calibration } : {}),
      ...(evaluation.logLoss !== undefined ? { logLoss: evaluation.logLoss } : {}),
      misclassified: evaluation.misclassified.map((m, i) => ({
        file: basename(m.file),
        true: m.true,
        predicted: m.predicted,
        confidence: m.confidence,
        thumbnail: `/v1/runs/${run.id}/thumbnails/${i}`,
      })),
      // Found by cross-validation on the training images: each judged by a head that never saw it.
      // Whether the page may relabel or remove them (an upload project's images); a folder project's are the user's own.
      acceptsLabelFixes: project !== undefined && ctx.isUploadProject(project),
      labelIssues: (evaluation.labelIssues ?? []).map((m, i) => ({
        file: basename(m.file),
        // Where it is within the project's folder (`squares/x.jpg`), to be found there; never the server's own path.
        path: project && isWithin(m.file, project.dataDir) ? relative(project.dataDir, m.file) : basename(m.file),
        given: m.given,
        predicted: m.predicted,
        confidence: m.confidence,
        thumbnail: `/v1/runs/${run.id}/label-issues/${i}/thumbnail`,
        // What the user did about it here (label-issue-routes.ts): the class and name it was moved to, or its removal.
        ...(m.fixed ? { fixed: m.fixed } : {}),
      })),
      // Present when the head that found them is weak: many are then its own mistakes.
      ...(labelIssuesNote ? { labelIssuesNote } : {}),
    };
  });

  /** `?size=` (32-512 px, default 160) picks the side of the square JPEG. */
  const sendThumbnail = async (request: { params: unknown; query: unknown }, reply: FastifyReply, list: 'misclassified' | 'labelIssues'): Promise<FastifyReply> => {
    const params = request.params as { id: string; index: string };
    const sizePx = Number((request.query as { size?: string }).size ?? 160);
    if (!Number.isInteger(sizePx) || sizePx < 32 || sizePx > 512) throw new ServeError('BAD_REQUEST', `size is a whole number of pixels from 32 to 512. Received: size=${JSON.stringify(String((request.query as Record<string, unknown>)['size'] ?? '').slice(0, 40))}`);
    const run = runOr404(params.id);
    const evaluation = store.evaluation(run.id) as StoredEvaluation | undefined;
    const what = list === 'misclassified' ? 'misclassified image' : 'image with a label to check';
    const stored = /^\d+$/.test(params.index) ? evaluation?.[list]?.[Number(params.index)] : undefined;
    if (!stored) throw new ServeError('NOT_FOUND', `Run ${run.id} has no ${what} ${params.index}.`);
    const project = store.project(run.projectId);
    const file = movedTo(stored, project) ?? stored.file;
    if (!project || !(await ctx.mayReadFile(project, file))) throw new ServeError('NOT_FOUND', `Run ${run.id}'s image ${params.index} is not in a folder this server may read.`);
    // From the file's bytes, raster formats only (as the report does): an SVG named .png is never rendered.
    const jpeg = await readFile(file)
      .then((bytes) => thumbnailJpeg(bytes, sizePx, 78))
      .catch((cause: unknown) => {
        throw new ServeError('NOT_FOUND', `Run ${run.id}'s image ${params.index} (${basename(file)}) can no longer be read as an image.`, { cause, hint: 'the image was moved, deleted or replaced since evaluation' });
      });
    // Not cached: a store made before ids were never reused may give a deleted run's id to a new run.
    return reply.type('image/jpeg').header('cache-control', 'no-cache').send(jpeg);
  };
  app.get('/v1/runs/:id/thumbnails/:index', (request, reply) => sendThumbnail(request, reply, 'misclassified'));
  app.get('/v1/runs/:id/label-issues/:index/thumbnail', (request, reply) => sendThumbnail(request, reply, 'labelIssues'));

  return { store, queue };
}

/** Always available offline: the backbone inside the nsfwjs package. */
const BUNDLED_BACKBONE = 'nsfwjs_mobilenet_v2';

/** Where a label issue's image is now, when the dashboard moved it (relabelled); undefined otherwise. */
function movedTo(item: { readonly file: string; readonly fixed?: LabelFix }, project: ProjectRecord | undefined): string | undefined {
  return item.fixed?.action === 'relabelled' && project ? join(project.dataDir, item.fixed.label, item.fixed.file) : undefined;
}
