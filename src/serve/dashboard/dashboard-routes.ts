import { createWriteStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { FastifyInstance, FastifyReply } from 'fastify';
import sharp from 'sharp';
import { hasImageExtension } from '../../data/dataset.js';
import { findSplitFolders } from '../../data/find-split-folders.js';
import { scanDataset } from '../../data/scan-dataset.js';
import { GraftError } from '../../errors.js';
import { defaultCacheDir } from '../../features/default-cache-dir.js';
import { CATALOGUE_NAMES, isCatalogueName } from '../../hub/catalogue.js';
import { modelDirsFromEnv, resolveBackbone } from '../../hub/resolve-backbone.js';
import { ServeError } from '../serve-error.js';
import { DashboardStore, isTerminalStatus, type ProjectRecord, type RunFineTuneOptions, type RunRecord } from './dashboard-store.js';
import { registerDashboardPage } from './dashboard-page.js';
import { epochEvent, maxEpochs, RunQueue, type RunEvent, type StoredEvaluation } from './run-queue.js';
import { definedOnly } from '../../defined-only.js';

/** Options of {@link registerDashboardRoutes}. */
export interface DashboardOptions {
  /** Where the SQLite store, uploaded images and trained models live. Created when missing. */
  readonly dataDir: string;
  /** Feature and backbone cache for training. Defaults to the user's Graft cache (`GRAFT_CACHE_DIR`, ~/.cache/graft). */
  readonly cacheDir?: string;
  /** Never download a backbone. Defaults to true (the dashboard trains with what is installed or cached). */
  readonly offline?: boolean;
  /** Folder of the page's files. Defaults to the package's src/web/dashboard (see dashboardWebRoot). */
  readonly webRoot?: string;
}

/** What registration hands back: the store (for tests and the CLI) and a close that waits for the current run. */
export interface DashboardHandle {
  readonly store: DashboardStore;
  readonly queue: RunQueue;
}

const LABEL_PATTERN = /^[\p{L}\p{N}][\p{L}\p{N} _.-]{0,63}$/u;
const EPOCHS_MAX = 500;
const FINE_TUNE_EPOCHS_MAX = 100;
/** The dashboard's fine-tuning defaults: DEFAULT_FINE_TUNE's values for the options it offers. */
const FINE_TUNE_DEFAULTS: RunFineTuneOptions = { unfreeze: 'last:3', epochs: 6, views: 2, classWeights: 'none' };

/**
 * The training dashboard's JSON API and page: projects (from a folder or uploads), runs trained in-process one
 * at a time, live progress as server-sent events, and each finished run's evaluation with thumbnails.
 * Needs @fastify/multipart registered on `app` (startServer does) for image uploads. Closing `app` stops the
 * queue (after the current run) and closes the store.
 */
export function registerDashboardRoutes(app: FastifyInstance, options: DashboardOptions): DashboardHandle {
  const dataDir = resolve(options.dataDir);
  const store = DashboardStore.open(dataDir);
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const queue = new RunQueue({ store, cacheDir, offline: options.offline ?? true });
  const streams = new Set<FastifyReply>();
  app.addHook('onClose', async () => {
    for (const reply of streams) reply.raw.end();
    await queue.close();
    store.close();
  });
  registerDashboardPage(app, options.webRoot);

  const projectOr404 = (id: string): ProjectRecord => {
    const project = store.project(Number(id));
    if (!project) throw new ServeError('NOT_FOUND', `No project ${id}.`, { hint: 'GET /v1/projects lists them' });
    return project;
  };
  const runOr404 = (id: string): RunRecord => {
    const run = store.run(Number(id));
    if (!run) throw new ServeError('NOT_FOUND', `No run ${id}.`, { hint: 'GET /v1/projects/:id lists its runs' });
    return run;
  };
  const uploadDir = (id: number): string => join(dataDir, 'projects', String(id));
  const describeProject = async (project: ProjectRecord): Promise<Record<string, unknown>> => ({
    ...project,
    acceptsUploads: resolve(project.dataDir) === uploadDir(project.id),
    ...(await classCounts(project.dataDir)),
    runs: store.runs(project.id).map((r) => describeRun(r, store)),
  });

  app.post('/v1/projects', {
    schema: {
      body: {
        type: 'object',
        required: ['name'],
        additionalProperties: false,
        properties: { name: { type: 'string', minLength: 1, maxLength: 100 }, folder: { type: 'string', minLength: 1 } },
      },
    },
  }, async (request, reply) => {
    const body = request.body as { name: string; folder?: string };
    if (body.folder === undefined) {
      const project = store.createProject(body.name, '');
      const dir = uploadDir(project.id);
      await mkdir(dir, { recursive: true });
      store.setProjectDataDir(project.id, dir);
      return reply.code(201).send(await describeProject({ ...project, dataDir: dir }));
    }
    const folder = resolve(body.folder);
    const info = await stat(folder).catch(() => undefined);
    if (!info?.isDirectory()) {
      throw new GraftError('INVALID_DATASET', `${folder} is not a folder. Received: folder=${JSON.stringify(body.folder)}`, {
        hint: 'give a folder on the server holding one sub-folder per class (or train/ and val/)',
      });
    }
    const counts = await classCounts(folder);
    if (counts.classes.length < 2) {
      throw new GraftError('INVALID_DATASET', `${folder} has ${counts.classes.length} class folder(s) with images; training needs at least 2.`, {
        hint: 'put each class in its own sub-folder: folder/<class>/<image>.jpg',
      });
    }
    return reply.code(201).send(await describeProject(store.createProject(body.name, folder)));
  });

  app.get('/v1/projects', async () => ({ projects: store.projects().map((p) => ({ ...p, runs: store.runs(p.id).length })) }));

  app.get('/v1/projects/:id', async (request) => describeProject(projectOr404((request.params as { id: string }).id)));

  app.post('/v1/projects/:id/images', async (request, reply) => {
    const project = projectOr404((request.params as { id: string }).id);
    if (resolve(project.dataDir) !== uploadDir(project.id)) {
      throw new ServeError('BAD_REQUEST', `Project ${project.id} reads the folder ${project.dataDir}; the dashboard does not write into your folders.`, {
        hint: 'create a project without a folder to upload images',
      });
    }
    if (!request.isMultipart()) throw new ServeError('UNSUPPORTED_MEDIA_TYPE', 'Send multipart/form-data: a `label` field, then image files.');
    let label: string | undefined;
    const saved: string[] = [];
    for await (const part of request.parts()) {
      if (part.type === 'field') {
        if (part.fieldname !== 'label') continue;
        label = String(part.value).trim();
        if (!LABEL_PATTERN.test(label)) {
          throw new ServeError('BAD_REQUEST', `A class label is letters, digits, space, _ . - (at most 64). Received: label=${JSON.stringify(label)}`);
        }
        continue;
      }
      if (label === undefined) throw new ServeError('BAD_REQUEST', 'The `label` field must come before the files.', { hint: "append 'label' to the FormData first" });
      const name = safeFileName(part.filename, saved.length);
      if (!hasImageExtension(name)) {
        part.file.resume();
        throw new ServeError('NOT_AN_IMAGE', `${part.filename} does not have an image extension.`, { hint: 'upload .jpg, .png, .webp or .gif files' });
      }
      const dir = join(project.dataDir, label);
      await mkdir(dir, { recursive: true });
      const target = join(dir, name);
      await pipeline(part.file, createWriteStream(target));
      if (part.file.truncated) throw new ServeError('PAYLOAD_TOO_LARGE', `${part.filename} is larger than the upload limit.`);
      saved.push(basename(target));
    }
    if (label === undefined) throw new ServeError('BAD_REQUEST', 'No `label` field.', { hint: 'send label=<class> and the files of that class' });
    return reply.code(201).send({ label, saved: saved.length, project: await describeProject(project) });
  });

  app.post('/v1/projects/:id/runs', {
    schema: {
      body: {
        type: 'object',
        additionalProperties: false,
        properties: {
          epochs: { type: 'integer', minimum: 1, maximum: EPOCHS_MAX },
          hidden: { type: 'integer', minimum: 0, maximum: 4096 },
          backbone: { type: 'string', minLength: 1 },
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
    const project = projectOr404((request.params as { id: string }).id);
    const body = (request.body ?? {}) as { epochs?: number; hidden?: number; backbone?: string; fineTune?: Partial<RunFineTuneOptions> };
    if (body.backbone !== undefined && !isCatalogueName(body.backbone)) {
      throw new GraftError('INVALID_CONFIG', `Unknown backbone. Received: backbone=${JSON.stringify(body.backbone)}`, { hint: `one of ${CATALOGUE_NAMES.join(', ')}` });
    }
    const counts = await classCounts(project.dataDir);
    if (counts.classes.length < 2) {
      throw new GraftError('INVALID_DATASET', `Project ${project.id} has ${counts.classes.length} class(es) with images; training needs at least 2.`, {
        hint: 'upload images for at least two classes',
      });
    }
    const backbone = body.backbone ?? (await defaultBackbone(cacheDir));
    const fineTune = body.fineTune && { ...FINE_TUNE_DEFAULTS, ...definedOnly(body.fineTune) };
    const run = store.createRun(project.id, { epochs: body.epochs ?? 30, hidden: body.hidden ?? 256, backbone, ...(fineTune ? { fineTune } : {}) }, (id) => join(dataDir, 'runs', String(id), 'model'));
    queue.enqueue(run.id);
    return reply.code(201).send(describeRun(run, store));
  });

  app.get('/v1/runs/:id', async (request) => describeRun(runOr404((request.params as { id: string }).id), store));

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
    return reply.code(outcome === 'stopping' ? 202 : 200).send(describeRun(store.run(run.id)!, store));
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
    if (!evaluation) throw new ServeError('NOT_FOUND', `Run ${run.id} has no evaluation (status: ${run.status}).`, { hint: 'a run is evaluated when it finishes' });
    return {
      run: run.id,
      dataset: evaluation.dataset,
      count: evaluation.count,
      accuracy: evaluation.accuracy,
      labels: evaluation.labels,
      confusion: evaluation.confusion,
      perClass: evaluation.perClass,
      misclassified: evaluation.misclassified.map((m, i) => ({
        file: basename(m.file),
        true: m.true,
        predicted: m.predicted,
        confidence: m.confidence,
        thumbnail: `/v1/runs/${run.id}/thumbnails/${i}`,
      })),
    };
  });

  /** `?size=` (32-512 px, default 160) picks the side of the square JPEG. */
  app.get('/v1/runs/:id/thumbnails/:index', async (request, reply) => {
    const params = request.params as { id: string; index: string };
    const sizePx = Number((request.query as { size?: string }).size ?? 160);
    if (!Number.isInteger(sizePx) || sizePx < 32 || sizePx > 512) throw new ServeError('BAD_REQUEST', `size is a whole number of pixels from 32 to 512. Received: size=${sizePx}`);
    const run = runOr404(params.id);
    const evaluation = store.evaluation(run.id) as StoredEvaluation | undefined;
    const item = evaluation?.misclassified[Number(params.index)];
    if (!item || !/^\d+$/.test(params.index)) throw new ServeError('NOT_FOUND', `Run ${run.id} has no misclassified image ${params.index}.`);
    const jpeg = await sharp(item.file, { failOn: 'error', limitInputPixels: 100_000_000, autoOrient: true })
      .resize(sizePx, sizePx, { fit: 'cover' })
      .flatten({ background: '#ffffff' })
      .jpeg({ quality: 78 })
      .toBuffer()
      .catch((cause: unknown) => {
        throw new ServeError('NOT_FOUND', `${item.file} can no longer be read.`, { cause, hint: 'the image was moved or deleted since evaluation' });
      });
    return reply.type('image/jpeg').header('cache-control', 'max-age=3600').send(jpeg);
  });

  return { store, queue };
}


/** Images per class of a folder: train/ and val/ (or the like) are added up when the folder is split. */
async function classCounts(folder: string): Promise<{ classes: { label: string; count: number }[]; skipped: number }> {
  const split = await findSplitFolders(folder).catch(() => undefined);
  const roots = split ? [split.train, ...(split.val ? [split.val] : [])] : [folder];
  const counts = new Map<string, number>();
  let skipped = 0;
  for (const root of roots) {
    const dataset = await scanDataset(root).catch(() => undefined);
    if (!dataset) continue;
    skipped += dataset.skipped.length;
    for (const item of dataset.items) counts.set(item.label, (counts.get(item.label) ?? 0) + 1);
  }
  return { classes: [...counts].sort((a, b) => a[0].localeCompare(b[0])).map(([label, count]) => ({ label, count })), skipped };
}

function describeRun(run: RunRecord, store: DashboardStore): Record<string, unknown> {
  return { ...run, maxEpochs: maxEpochs(run), epochs: store.epochs(run.id) };
}

/** `mobilenet_v2` when it is cached or in GRAFT_MODELS_DIR, else the backbone bundled in nsfwjs (always offline). */
async function defaultBackbone(cacheDir: string): Promise<string> {
  try {
    await resolveBackbone('mobilenet_v2', { cacheDir, modelDirs: modelDirsFromEnv(), offline: true });
    return 'mobilenet_v2';
  } catch {
    return 'nsfwjs_mobilenet_v2';
  }
}

/** A file name safe to write: the upload's base name without odd characters, or a numbered one. */
function safeFileName(name: string, index: number): string {
  const base = basename(name).replace(/[^\w.-]+/g, '_').replace(/^\.+/, '');
  const ext = extname(base).toLowerCase();
  return base && ext ? base : `upload-${Date.now()}-${index}${ext || '.jpg'}`;
}
