import { lstat, realpath } from 'node:fs/promises';
import { basename, relative, sep } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isWithin } from '../../core/is-within.js';
import { ServeError } from '../serve-error.js';
import { checkClassName } from './class-name.js';
import { moveImageToClass, removeClassImage } from './class-images.js';
import type { DashboardContext } from './dashboard-context.js';
import type { ProjectRecord, RunRecord } from './dashboard-store.js';
import { requireIdle } from './project-routes.js';
import type { LabelFix, StoredEvaluation } from './run-queue.js';

/** A label issue whose image may be changed now: where it is, and the class folder it is in. */
interface ChangeableImage {
  readonly file: string;
  readonly label: string;
}

/**
 * Acting on a finished run's label issues, as fastai's ImageClassifierCleaner does:
 * `POST /v1/runs/:id/label-issues/:index/relabel` with `{ "label": "<class>" }` moves the image into that class (an
 * existing one or a new one; 200 `{ label, file, isDuplicate }`), and `.../remove` deletes it (204). Only an upload
 * project's images change: a folder project's are the user's own (409 saying where to fix it), and none change while
 * a run of the project is queued or running (409). The stored evaluation keeps its scores (they describe the images
 * it scored) and notes on the issue what was done (`fixed`); a second change of one image is a 404.
 */
export function registerLabelIssueRoutes(app: FastifyInstance, ctx: DashboardContext): void {
  app.post('/v1/runs/:id/label-issues/:index/relabel', {
    schema: {
      body: { type: 'object', required: ['label'], additionalProperties: false, properties: { label: { type: 'string', maxLength: 200 } } },
    },
  }, async (request) => {
    const { run, index, project, file, what } = issueOf(ctx, request);
    const label = checkClassName((request.body as { label: string }).label);
    const image = await changeableImage(ctx, project, file, what);
    if (label === image.label) {
      throw new ServeError('BAD_REQUEST', `${basename(file)} is in class ${JSON.stringify(label)} already. Received: label=${JSON.stringify(label)}`, { hint: 'name another class' });
    }
    const moved = await moveImageToClass(image.file, project.dataDir, label).catch(goneMeanwhile(image, what));
    recordFix(ctx, run, index, { action: 'relabelled', label: moved.label, file: moved.file });
    return moved;
  });

  app.post('/v1/runs/:id/label-issues/:index/remove', async (request, reply) => {
    const { run, index, project, file, what } = issueOf(ctx, request);
    const image = await changeableImage(ctx, project, file, what);
    await removeClassImage(image.file).catch(goneMeanwhile(image, what));
    recordFix(ctx, run, index, { action: 'removed' });
    return reply.code(204).send();
  });
}

/**
 * Notes on the stored evaluation what was done to a label issue, so the page shows it done after a reload and its
 * thumbnail follows a moved image. Read and written with no await between: two fixes of one run never lose either.
 */
function recordFix(ctx: DashboardContext, run: RunRecord, index: number, fixed: LabelFix): void {
  const evaluation = ctx.store.evaluation(run.id) as StoredEvaluation | undefined;
  if (!evaluation?.labelIssues?.[index]) return;
  ctx.store.saveEvaluation(run.id, { ...evaluation, labelIssues: evaluation.labelIssues.map((issue, i) => (i === index ? { ...issue, fixed } : issue)) });
}

/**
 * The image of the run's label issue named by the request (where the evaluation saw it, and how messages name it), in
 * a project whose images the dashboard may change now.
 * @throws ServeError NOT_FOUND (no such run or issue), CONFLICT (a folder project; a run queued or running).
 */
function issueOf(ctx: DashboardContext, request: FastifyRequest): { run: RunRecord; index: number; project: ProjectRecord; file: string; what: string } {
  const { id, index } = request.params as { id: string; index: string };
  const run = ctx.runOr404(id);
  const evaluation = ctx.store.evaluation(run.id) as StoredEvaluation | undefined;
  const issue = /^\d{1,9}$/.test(index) ? evaluation?.labelIssues?.[Number(index)] : undefined;
  if (!issue) throw new ServeError('NOT_FOUND', `Run ${run.id} has no image with a label to check ${index.slice(0, 20)}.`, { hint: `GET /v1/runs/${run.id}/evaluation lists them as labelIssues` });
  const what = `Run ${run.id}'s image ${index} (${basename(issue.file)})`;
  if (issue.fixed) {
    const done = issue.fixed.action === 'removed' ? 'was removed' : `was relabelled as ${JSON.stringify(issue.fixed.label)}`;
    throw new ServeError('NOT_FOUND', `${what} ${done} already.`, { hint: 'the class lists show where the images are now; train again for an evaluation of them' });
  }
  const project = ctx.store.project(run.projectId);
  if (!project) throw new ServeError('NOT_FOUND', `Run ${run.id}'s project is gone.`);
  if (!ctx.isUploadProject(project)) {
    // The path within the project only: the server's own folders are not the client's business.
    const within = isWithin(issue.file, project.dataDir) ? relative(project.dataDir, issue.file) : basename(issue.file);
    throw new ServeError('CONFLICT', `Project ${project.id} reads a folder on the server, which the dashboard never changes; fix it in your folder: ${within}`, {
      hint: 'move the image into the folder of its class, or delete it, then train again',
    });
  }
  requireIdle(ctx, project, 'wait for them to end, or cancel them, before changing the images');
  return { run, index: Number(index), project, file: issue.file, what };
}

/**
 * The image where the evaluation saw it: a file (not a link) in a class folder of the project's own folder.
 * @throws ServeError NOT_FOUND when it is gone (moved or deleted since), FORBIDDEN when it is anywhere else.
 */
async function changeableImage(ctx: DashboardContext, project: ProjectRecord, file: string, what: string): Promise<ChangeableImage> {
  const parts = relative(project.dataDir, file).split(sep);
  const outside = new ServeError('FORBIDDEN', `${what} is not an image of project ${project.id}'s own folder; the dashboard changes only the images it holds.`);
  if (parts.length !== 2 || !(await ctx.mayReadFile(project, file))) throw outside;
  const info = await lstat(file).catch(() => undefined);
  if (!info) throw movedSince(what, parts[0]!);
  // A link (or a class folder that is one) may lead out of the project: never moved or deleted through.
  const real = await realpath(file).catch(() => undefined);
  if (!info.isFile() || real === undefined || !isWithin(real, await realpath(project.dataDir))) throw outside;
  return { file, label: parts[0]! };
}

function movedSince(what: string, label: string): ServeError {
  return new ServeError('NOT_FOUND', `${what} is no longer in class ${JSON.stringify(label)}: it was moved or deleted since the run was evaluated.`, {
    hint: 'the class lists show where the images are now; train again for an evaluation of them',
  });
}

/** A second request for the same image, answered while the first moved it: the file is gone, as a later request finds. */
function goneMeanwhile(image: ChangeableImage, what: string): (error: unknown) => never {
  return (error) => {
    throw (error as NodeJS.ErrnoException).code === 'ENOENT' ? movedSince(what, image.label) : error;
  };
}
