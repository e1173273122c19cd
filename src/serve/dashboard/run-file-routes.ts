import type { FastifyInstance } from 'fastify';
import { ServeError } from '../serve-error.js';
import type { DashboardContext } from './dashboard-context.js';
import { isTerminalStatus } from './dashboard-store.js';
import { removeRunFiles } from './run-files.js';

/** A run's files: deleting a run that ended, with everything it wrote. */
export function registerRunFileRoutes(app: FastifyInstance, ctx: DashboardContext): void {
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
    await removeRunFiles(run);
    return reply.code(204).send();
  });
}
