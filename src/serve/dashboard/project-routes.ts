import { findSplitFolders } from '../../data/find-split-folders.js';
import { randomUUID } from 'node:crypto';
import { rename, rm, rmdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GraftError } from '../../core/errors.js';
import { listImageFiles } from '../../data/scan-folder.js';
import { ServeError } from '../serve-error.js';
import { classCounts } from './class-counts.js';
import { removeClassImage } from './class-images.js';
import type { DashboardContext } from './dashboard-context.js';
import { isTerminalStatus, type ProjectRecord } from './dashboard-store.js';
import { projectNameTaken, tidyProjectName } from './project-name.js';
import { receiveUpload } from './receive-upload.js';
import { removeRunFiles } from './run-files.js';
import { noteAccess } from '../access-log.js';
import { makeDirectory } from '../../core/make-directory.js';

const LINKED_OUT = 'a link that leads outside the data roots, which this server may not read';

/** A class folder or file name as a path segment: no separators, not hidden, not `.` or `..`. */
const SEGMENT = /^(?!\.)[^/\\\0]{1,255}$/;

/**
 * Projects: create (from a folder inside a data root, or empty for uploads), list, show, upload images into a
 * class, list a class, and delete an image, a class or a whole project. Upload projects live in the dashboard's
 * own folder; a project on a server folder is only ever read.
 */
/**
 * The project routes. `maxPixels` bounds an uploaded image as "Try the model" bounds one (an upload it then refused
 * trained the run without a word).
 */
export function registerProjectRoutes(app: FastifyInstance, ctx: DashboardContext, maxPixels: number): void {
  const { store } = ctx;

  app.get('/v1/data-roots', async () => ({ roots: await ctx.dataRoots.list() }));

  app.post('/v1/projects', {
    schema: {
      body: {
        type: 'object',
        required: ['name'],
        additionalProperties: false,
        properties: { name: { type: 'string', minLength: 1, maxLength: 100 }, folder: { type: 'string', minLength: 1, maxLength: 4096 } },
      },
    },
  }, async (request, reply) => {
    const body = request.body as { name: string; folder?: string };
    // Said before the folder is looked at (a name is the first field, and cheap); createProject checks it again.
    const name = tidyProjectName(body.name);
    const taken = store.projectNamed(name);
    if (taken) throw projectNameTaken(name, taken);
    if (body.folder === undefined) {
      const project = store.createProject(name, '');
      const dir = ctx.uploadDir(project.id);
      try {
        await makeDirectory(dir);
        store.setProjectDataDir(project.id, dir);
      } catch (error) {
        // A full disk: no project without a folder is left behind (it could never take an upload). Should the store
        // be full too, the first error is the one that says why.
        try {
          store.deleteProject(project.id);
        } catch {
          // said by `error`
        }
        throw error;
      }
      return reply.code(201).send(await ctx.describeProject({ ...project, dataDir: dir }));
    }
    const folder = await ctx.dataRoots.resolveFolder(body.folder);
    const counts = await classCounts(folder, ctx.dataRoots.roots);
    if (counts.classes.length < 2) {
      // Files left out because they are links leading out of the data roots: said, or the count reads as a layout problem.
      const linkedOut = counts.skipped ? ` ${counts.skipped} file(s) were left out: links that lead outside the data roots, which this server may not read.` : '';
      throw new GraftError('INVALID_DATASET', `The folder ${JSON.stringify(body.folder)} has ${counts.classes.length} class folder(s) with images; training needs at least 2.${linkedOut}`, {
        hint: counts.skipped ? 'copy the images into the folder instead of linking them, or serve a data root that holds the files they link to' : 'put each class in its own sub-folder: folder/<class>/<image>.jpg',
      });
    }
    return reply.code(201).send(await ctx.describeProject(store.createProject(name, folder)));
  });

  app.get('/v1/projects', async () => ({ projects: store.projects().map((p) => ({ ...p, runs: store.runs(p.id).length })) }));

  app.get('/v1/projects/:id', async (request) => ctx.describeProject(ctx.projectOr404(param(request, 'id'))));

  app.post('/v1/projects/:id/images', async (request, reply) => {
    const project = idleUploadProject(ctx, param(request, 'id'));
    const upload = await receiveUpload(request, { projectDir: project.dataDir, stagingDir: ctx.stagingDir, maxPixels });
    noteAccess(request, { images: upload.files.length });
    if (upload.files.length === 0) {
      // An empty class folder would make every later run fail ("has no images"), and the project's class list
      // leaves it out, so the page could not show why.
      await rmdir(join(project.dataDir, upload.label)).catch(() => undefined);
      throw new ServeError('BAD_REQUEST', `The upload for class ${JSON.stringify(upload.label)} holds no image file.`, { hint: 'send the label field, then one or more image files' });
    }
    const saved = upload.files.filter((f) => !f.isDuplicate).length;
    return reply.code(201).send({ label: upload.label, saved, duplicates: upload.files.length - saved, files: upload.files, project: await ctx.describeProject(project) });
  });

  app.get('/v1/projects/:id/classes/:label', async (request) => {
    const project = ctx.projectOr404(param(request, 'id'));
    if (!(await ctx.mayRead(project))) throw notReadable(project);
    const label = segment(param(request, 'label'), 'class');
    // A folder split into train/ and val/ (as training reads it) has the class in each part; `part` says which.
    const split = ctx.isUploadProject(project) ? undefined : await findSplitFolders(project.dataDir);
    const parts = split ? [{ part: 'train', root: split.train }, ...(split.val ? [{ part: 'val', root: split.val }] : [])] : [{ part: undefined, root: project.dataDir }];
    const images: { name: string; bytes: number; part?: string }[] = [];
    const skipped: { name: string; reason: string; part?: string }[] = [];
    let found = false;
    for (const { part, root } of parts) {
      const dir = join(root, label);
      // A class folder linked out of the data roots is not there, as far as a client can tell.
      if (!(await ctx.mayReadFile(project, dir))) continue;
      // The class's images as training reads them: its sub-folders too (links followed inside the class folder).
      const listed = await listImageFiles(dir).catch(() => undefined);
      if (!listed) continue;
      found = true;
      const name = (file: string) => relative(dir, file).split(sep).join('/');
      const inPart = part ? { part } : {};
      // What training would pass over, with its reason: a file that is no image, a name that is not UTF-8.
      for (const { file, reason } of listed.skipped) skipped.push({ name: name(file), reason, ...inPart });
      for (const file of listed.files) {
        // A file linked out of the data roots is left out, as training leaves it out; one deleted since is gone.
        if (!(await ctx.mayReadFile(project, file))) {
          skipped.push({ name: name(file), reason: LINKED_OUT, ...inPart });
          continue;
        }
        const info = await stat(file).catch(() => undefined);
        if (info) images.push({ name: name(file), bytes: info.size, ...inPart });
      }
    }
    if (!found) throw new ServeError('NOT_FOUND', `Project ${project.id} has no class ${JSON.stringify(label)}.`);
    const byPartAndName = (a: { name: string; part?: string }, b: { name: string; part?: string }) => (a.part ?? '').localeCompare(b.part ?? '') || a.name.localeCompare(b.name);
    return { label, images: images.sort(byPartAndName), skipped: skipped.sort(byPartAndName) };
  });

  app.delete('/v1/projects/:id/classes/:label/images/:file', async (request, reply) => {
    const project = idleUploadProject(ctx, param(request, 'id'));
    const dir = classDir(project, param(request, 'label'));
    const file = join(dir, segment(param(request, 'file'), 'file'));
    if (!(await stat(file).catch(() => undefined))?.isFile()) throw new ServeError('NOT_FOUND', `No image ${JSON.stringify(param(request, 'file'))} in class ${JSON.stringify(param(request, 'label'))}.`);
    await removeClassImage(file);
    return reply.code(204).send();
  });

  // Any existing class folder can go, reserved names included: that is how a project broken before names were
  // checked (a class called `train`) is repaired.
  app.delete('/v1/projects/:id/classes/:label', async (request, reply) => {
    const project = idleUploadProject(ctx, param(request, 'id'));
    const dir = classDir(project, param(request, 'label'));
    if (!(await stat(dir).catch(() => undefined))?.isDirectory()) throw new ServeError('NOT_FOUND', `Project ${project.id} has no class ${JSON.stringify(param(request, 'label'))}.`);
    await removeFolder(ctx, dir);
    return reply.code(204).send();
  });

  app.delete('/v1/projects/:id', async (request, reply) => {
    const project = ctx.projectOr404(param(request, 'id'));
    requireIdle(ctx, project, 'cancel them first');
    const runs = store.deleteProject(project.id);
    // The record goes first (one transaction), then the files it owned: the dashboard's run folders and, for an
    // upload project, its images. A project on a server folder never has that folder touched, nor does a run whose
    // model lies outside this dashboard's folder (a store copied from another one names that one's runs).
    for (const run of runs) await removeRunFiles(run, ctx.dataDir);
    if (ctx.isUploadProject(project)) await removeFolder(ctx, project.dataDir);
    return reply.code(204).send();
  });
}

function param(request: FastifyRequest, name: string): string {
  return String((request.params as Record<string, unknown>)[name] ?? '');
}

function segment(value: string, what: string): string {
  if (!SEGMENT.test(value)) throw new ServeError('BAD_REQUEST', `Not a valid ${what} name. Received: ${JSON.stringify(value.slice(0, 80))}`);
  return value;
}

function classDir(project: ProjectRecord, label: string): string {
  return join(project.dataDir, segment(label, 'class'));
}

/** The project, when it is an upload project (the dashboard writes only into its own folders). */
/**
 * An upload project whose images may change now: none of its runs is queued or running (a run reads them, and its
 * evaluation scores them again after training).
 * @throws ServeError CONFLICT naming the runs.
 */
function idleUploadProject(ctx: DashboardContext, id: string): ProjectRecord {
  const project = uploadProject(ctx, id);
  requireIdle(ctx, project, 'wait for them to end, or cancel them, before changing the images');
  return project;
}

/**
 * Refuses while any run of the project is queued or running (a run reads its images).
 * @throws ServeError CONFLICT naming the runs, with `hint`.
 */
export function requireIdle(ctx: DashboardContext, project: ProjectRecord, hint: string): void {
  const active = ctx.store.runs(project.id).filter((r) => !isTerminalStatus(r.status));
  if (active.length) {
    throw new ServeError('CONFLICT', `Project ${project.id} has ${active.length} queued or running run(s) (#${active.map((r) => r.id).join(', #')}).`, { hint });
  }
}

function uploadProject(ctx: DashboardContext, id: string): ProjectRecord {
  const project = ctx.projectOr404(id);
  if (!ctx.isUploadProject(project)) {
    throw new ServeError('BAD_REQUEST', `Project ${project.id} reads a folder on the server; the dashboard does not write into your folders.`, {
      hint: 'create a project without a folder to upload images',
    });
  }
  return project;
}

/** The refusal for a project whose server folder is no longer inside a data root. */
export function notReadable(project: ProjectRecord): ServeError {
  return new ServeError('FORBIDDEN', `Project ${project.id}'s folder is not inside a data root of this server any more.`, { hint: 'restart the server with the --data-root that holds it' });
}

/** Moves a folder aside (one rename, so it vanishes at once) and then deletes it. */
async function removeFolder(ctx: DashboardContext, dir: string): Promise<void> {
  const trash = join(ctx.stagingDir, `deleted-${randomUUID()}`);
  await makeDirectory(ctx.stagingDir);
  const moved = await rename(dir, trash).then(() => true, () => false);
  await rm(moved ? trash : dir, { recursive: true, force: true });
}

