import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type GraftServer } from '../../src/serve/start-server.js';
import { tempDir } from '../support.js';
import { removeTinyModel, trainTinyModel, type TinyModel } from '../web/web-support.js';

// `graft serve --train`: the prediction API, the upload page and the training dashboard in one process.
describe('startServer with the dashboard', () => {
  let model: TinyModel | undefined;
  let server: GraftServer | undefined;

  beforeAll(async () => {
    model = await trainTinyModel();
    server = await startServer({ models: [model.dir], port: 0, watch: false, dashboard: { dataDir: join(await tempDir(), 'ui') } });
  });
  afterAll(async () => {
    await server?.close();
    await removeTinyModel(model);
  });

  it('serves predictions, the dashboard page and its API side by side', async () => {
    const url = server!.url;
    // The dashboard needs the token the server generated; the prediction API (no --token) stays open.
    const auth = { authorization: `Bearer ${server!.token}` };
    expect(server!.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await fetch(`${url}/v1/projects`)).status).toBe(401);
    expect((await fetch(`${url}/dashboard/`)).status).toBe(401);
    // Routing decodes the path: an encoded letter reaches the same handlers, and must need the token too.
    for (const encoded of ['/v1/%70rojects', '/v1/%64ata-roots', '/v1/%72uns/1/events', '/%64ashboard/', '/v1/projects%2F1']) {
      expect((await fetch(`${url}${encoded}`)).status, encoded).toBe(401);
    }
    const created = await fetch(`${url}/v1/%70rojects`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"x"}' });
    expect(created.status).toBe(401);
    const projects = await fetch(`${url}/v1/projects`, { headers: auth });
    expect(projects.status).toBe(200);
    expect(await projects.json()).toEqual({ projects: [] });
    const page = await fetch(`${url}/dashboard/`, { headers: auth });
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<html/i);
    const name = server!.models[0]!;
    const image = await readFile(model!.data.files.find((f) => f.endsWith('.jpg'))!);
    const predicted = await fetch(`${url}/v1/models/${name}/predict`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: image });
    expect(predicted.status).toBe(200);
    const body = (await predicted.json()) as { predictions: { label: string }[] };
    expect(body.predictions.length).toBeGreaterThan(0);
  });
});
