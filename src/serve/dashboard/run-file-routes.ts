import { createReadStream, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { MANIFEST_FILE, ONNX_FILE } from '../../model/manifest.js';
import { ServeError } from '../serve-error.js';
import type { DashboardContext } from './dashboard-context.js';
import { isTerminalStatus, type RunRecord } from './dashboard-store.js';
import { TEACHABLE_MACHINE_ZIP } from './teachable-machine-zips.js';
import { removeRunFiles } from './run-files.js';
import { withRunModel } from './run-model-changed.js';

/** The files of a finished run a user can download, with their type and the ending of the name they are saved under. */
const DOWNLOADS: readonly { readonly file: string; readonly type: string; readonly ending: string }[] = [
  { file: ONNX_FILE, type: 'application/octet-stream', ending: '.onnx' },
  { file: MANIFEST_FILE, type: 'application/json; charset=utf-8', ending: '.graft.json' },
];

/** A run's files: downloading a finished run's model and manifest, and deleting a run that ended. */
export function registerRunFileRoutes(app: FastifyInstance, ctx: DashboardContext): void {
  /**
   * `GET /v1/runs/:id/model.onnx` and `/graft.json`: the finished run's files as attachments named after the project
   * and run (`shapes-run12.onnx`, `shapes-run12.graft.json`). 404 for a run without a model.
   */
  for (const { file, type, ending } of DOWNLOADS) {
    app.get(`/v1/runs/:id/${file}`, async (request, reply) => {
      const run = finishedRunOr404(ctx, (request.params as { id: string }).id);
      const path = join(run.modelDir, file);
      const info = await stat(path).catch(() => undefined);
      if (!info?.isFile()) throw new ServeError('NOT_FOUND', `Run ${run.id}'s ${file} is no longer on the server.`, { hint: 'its folder was changed by hand; train the run again' });
      return download(reply, downloadName(ctx, run, ending), type, info.size).send(createReadStream(path));
    });
  }

  /**
   * `GET /v1/runs/:id/teachable-machine.zip`: the finished run's model as Teachable Machine's "Download my model"
   * gives one (model.json, weights.bin, metadata.json), for pages written for `tmImage.load` or ml5. Made on the
   * first request (the model converted and checked: seconds), then kept in the run's folder.
   */
  app.get(`/v1/runs/:id/${TEACHABLE_MACHINE_ZIP}`, async (request, reply) => {
    const run = finishedRunOr404(ctx, (request.params as { id: string }).id);
    if (!existsSync(join(run.modelDir, MANIFEST_FILE))) {
      throw new ServeError('NOT_FOUND', `Run ${run.id}'s model is no longer on the server.`, { hint: 'its folder was changed by hand; train the run again' });
    }
    const zip = await withRunModel(run, () => ctx.teachableMachineZips.zipOf(run, ctx.dataDir));
    const name = downloadName(ctx, run, '-teachable-machine.zip');
    if (typeof zip !== 'string') return download(reply, name, 'application/zip', zip.byteLength).send(Buffer.from(zip));
    return download(reply, name, 'application/zip', (await stat(zip)).size).send(createReadStream(zip));
  });

  /**
   * Deletes a run that ended (finished, failed, cancelled or interrupted): its record and epochs, then its folder
   * (`runs/<id>/`: the model, a checkpoint). 204; 409 for a queued or running run, which must be cancelled first.
   */
  app.delete('/v1/runs/:id', async (request, reply) => {
    const run = ctx.runOr404((request.params as { id: string }).id);
    if (!isTerminalStatus(run.status)) {
      throw new ServeError('CONFLICT', `Run ${run.id} is ${run.status}; a queued or running run cannot be deleted.`, {
        hint: `cancel it first (POST /v1/runs/${run.id}/cancel), then delete it`,
      });
    }
    // The record goes first (the run is then gone for every client), then the files it owned.
    ctx.store.deleteRun(run.id);
    ctx.runModels.forget(run.id);
    await removeRunFiles(run, ctx.dataDir);
    return reply.code(204).send();
  });
}

function finishedRunOr404(ctx: DashboardContext, id: string): RunRecord {
  const run = ctx.runOr404(id);
  if (run.status !== 'finished') throw new ServeError('NOT_FOUND', `Run ${run.id} has no model (status: ${run.status}).`, { hint: 'a run has a model once it finishes' });
  return run;
}

/** The name a run's file is saved under: project and run, e.g. `shapes-run12.onnx`. */
function downloadName(ctx: DashboardContext, run: RunRecord, ending: string): string {
  return `${fileStem(ctx.store.project(run.projectId)?.name ?? '')}-run${run.id}${ending}`;
}

function download(reply: FastifyReply, name: string, type: string, size: number): FastifyReply {
  return (
    reply
      .type(type)
      .header('content-disposition', attachment(name))
      .header('content-length', size)
      // Not cached: a store made before ids were never reused may give a deleted run's id to a new run.
      .header('cache-control', 'no-cache')
  );
}

/** A project name as the start of a file name: letters, digits, `.`, `_` and `-`, at most 60 characters. */
function fileStem(projectName: string): string {
  const stem = projectName.replace(/[^\p{L}\p{N}._-]+/gu, '-').replace(/^[-.]+|-+$/g, '').slice(0, 60);
  return stem || 'project';
}

/** `attachment` with the name in ASCII (`filename`) and as written (`filename*`, RFC 6266). */
function attachment(name: string): string {
  const ascii = name.replace(/[^A-Za-z0-9._-]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}
