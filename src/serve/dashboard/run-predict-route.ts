import type { FastifyInstance } from 'fastify';
import { noteAccess } from '../access-log.js';
import { ConcurrencyLimiter } from '../concurrency-limiter.js';
import { parseTopK, readImageInputs, refuseOversizeBody } from '../image-input.js';
import { predictImages } from '../predict-images.js';
import { ServeError } from '../serve-error.js';
import type { DashboardContext } from './dashboard-context.js';
import { withRunModel } from './run-model-changed.js';
import { closeWhenAnswered } from '../close-after-reading.js';

/** What trying a run's model may take: the dashboard's upload size, and the server API's pixel limit. */
export interface RunPredictLimits {
  readonly maxUploadBytes: number;
  readonly maxPixels: number;
}

/** Images per request when trying a model out: the page sends one at a time; a script may send a few. */
const MAX_IMAGES = 16;

/**
 * `POST /v1/runs/:id/predict`: a finished run's model tried on images, before it is downloaded or served, as Teachable
 * Machine's preview does. The prediction API's forms (multipart, field `image`; a raw image body; JSON `{ image | images:
 * base64 }`), `top_k` in the query or the body; the answer is the prediction API's (`predictions`, `timing_ms`;
 * `results` for several images). 404 for a run without a model, 409 for one whose model folder was changed outside
 * the dashboard.
 */
export function registerRunPredictRoute(app: FastifyInstance, ctx: DashboardContext, limits: RunPredictLimits): void {
  const decodeLimiter = new ConcurrencyLimiter(2);
  const bodyLimits = { maxUploadBytes: limits.maxUploadBytes, maxImages: MAX_IMAGES };
  app.post<{ Params: { id: string }; Querystring: { top_k?: unknown } }>(
    '/v1/runs/:id/predict',
    {
      preParsing: async (request, reply, payload) => {
        await refuseOversizeBody(request.headers, payload, bodyLimits, () => closeWhenAnswered(reply));
        return payload;
      },
    },
    async (request) => {
      const run = ctx.runOr404(request.params.id);
      if (run.status !== 'finished') throw new ServeError('NOT_FOUND', `Run ${run.id} has no model (status: ${run.status}).`, { hint: 'a run has a model once it finishes' });
      const queryTopK = parseTopK(request.query.top_k);
      const inputs = await readImageInputs(request, bodyLimits);
      noteAccess(request, { images: inputs.images.length });
      const version = await withRunModel(run, () => ctx.runModels.acquire(run));
      try {
        const topK = inputs.topK ?? queryTopK ?? version.labels.length;
        const results = await predictImages(version, inputs.images, { topK, maxPixels: limits.maxPixels, decodeLimiter });
        return inputs.isBatch ? { run: run.id, results } : { run: run.id, ...results[0]! };
      } finally {
        version.release();
      }
    },
  );
}

