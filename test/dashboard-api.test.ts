import { copyFile, mkdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSyntheticDataset, type SyntheticDataset } from '../src/data/synthetic.js';
import { DashboardStore } from '../src/serve/dashboard/dashboard-store.js';
import { startDashboardServer } from '../src/serve/dashboard/start-dashboard-server.js';
import { tempDir } from './support.js';

/** Reads a run's server-sent events until the stream ends; returns them parsed. */
async function readEvents(url: string): Promise<{ event: string; data: Record<string, unknown> }[]> {
  const response = await fetch(url);
  expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
  const text = await response.text();
  return text
    .split('\n\n')
    .filter((block) => block.startsWith('event:'))
    .map((block) => {
      const [eventLine, dataLine] = block.split('\n');
      return { event: eventLine!.slice('event: '.length), data: JSON.parse(dataLine!.slice('data: '.length)) as Record<string, unknown> };
    });
}

describe('training dashboard API', () => {
  let root: string;
  let data: SyntheticDataset;
  let server: Awaited<ReturnType<typeof startDashboardServer>>;
  const cacheDir = join(tmpdir(), 'graft-web-tests-cache');
  beforeAll(async () => {
    root = await tempDir('graft-dashboard-');
    data = await writeSyntheticDataset(join(root, 'shapes'), { perClass: 8 });
    // A mislabelled file (a circle filed under squares): evaluation must list it among the mistakes.
    const circle = data.files.find((f) => f.includes('/val/circles/'))!;
    await copyFile(circle, join(data.valDir, 'squares', 'planted-circle.jpg'));
    await mkdir(cacheDir, { recursive: true });
    server = await startDashboardServer({ dataDir: join(root, 'ui'), cacheDir, port: 0 });
  });
  afterAll(async () => {
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('creates a project from a folder, trains, streams epochs and evaluates with thumbnails', async () => {
    const created = await fetch(`${server.url}/v1/projects`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'shapes', folder: data.root }) });
    expect(created.status).toBe(201);
    const project = (await created.json()) as { id: number; classes: { label: string; count: number }[] };
    expect(project.classes.map((c) => c.label)).toEqual(['circles', 'squares', 'triangles']);
    expect(project.classes.reduce((n, c) => n + c.count, 0)).toBe(data.files.length + 1);

    const started = await fetch(`${server.url}/v1/projects/${project.id}/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ epochs: 6, hidden: 0 }) });
    expect(started.status).toBe(201);
    const run = (await started.json()) as { id: number; status: string; options: { backbone: string } };
    expect(['queued', 'running']).toContain(run.status);

    const events = await readEvents(`${server.url}/v1/runs/${run.id}/events`);
    const epochs = events.filter((e) => e.event === 'epoch-end');
    expect(epochs.length).toBeGreaterThanOrEqual(1);
    expect(epochs[0]!.data).toMatchObject({ epoch: expect.any(Number), logs: { loss: expect.any(Number), acc: expect.any(Number) } });
    expect(events.at(-1)).toMatchObject({ event: 'status', data: { status: 'finished' } });

    // A finished run's stream replays the stored epochs, then its final status, and ends.
    const replay = await readEvents(`${server.url}/v1/runs/${run.id}/events`);
    expect(replay.filter((e) => e.event === 'epoch-end')).toHaveLength(epochs.length);
    expect(replay.at(-1)!.data.status).toBe('finished');

    const detail = (await (await fetch(`${server.url}/v1/runs/${run.id}`)).json()) as { status: string; epochs: unknown[]; metrics: { labels: string[] } };
    expect(detail.status).toBe('finished');
    expect(detail.epochs).toHaveLength(epochs.length);
    expect(detail.metrics.labels).toEqual(['circles', 'squares', 'triangles']);

    const evaluation = (await (await fetch(`${server.url}/v1/runs/${run.id}/evaluation`)).json()) as {
      labels: string[]; confusion: number[][]; perClass: Record<string, { recall: number }>; misclassified: { file: string; true: string; predicted: string; thumbnail: string }[];
    };
    expect(evaluation.labels).toEqual(['circles', 'squares', 'triangles']);
    expect(evaluation.confusion).toHaveLength(3);
    expect(evaluation.confusion.flat().reduce((a, b) => a + b, 0)).toBe(data.valCount + 1);
    expect(Object.keys(evaluation.perClass)).toEqual(['circles', 'squares', 'triangles']);
    const planted = evaluation.misclassified.find((m) => m.file === 'planted-circle.jpg');
    expect(planted).toMatchObject({ true: 'squares', predicted: 'circles' });

    const thumbnail = await fetch(`${server.url}${planted!.thumbnail}`);
    expect(thumbnail.status).toBe(200);
    expect(thumbnail.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(await thumbnail.arrayBuffer()).subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    expect((await fetch(`${server.url}/v1/runs/${run.id}/thumbnails/999`)).status).toBe(404);
  });

  it('creates a project from uploads per class and refuses bad input', async () => {
    const created = await fetch(`${server.url}/v1/projects`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'uploaded' }) });
    const project = (await created.json()) as { id: number };
    for (const label of ['circles', 'squares']) {
      const form = new FormData();
      form.append('label', label);
      for (const file of data.files.filter((f) => f.includes(`/train/${label}/`)).slice(0, 3)) {
        form.append('files', new Blob([await readFile(file)], { type: 'image/jpeg' }), file.split('/').at(-1));
      }
      const uploaded = await fetch(`${server.url}/v1/projects/${project.id}/images`, { method: 'POST', body: form });
      expect(uploaded.status).toBe(201);
    }
    const detail = (await (await fetch(`${server.url}/v1/projects/${project.id}`)).json()) as { classes: { label: string; count: number }[] };
    expect(detail.classes).toEqual([{ label: 'circles', count: 3 }, { label: 'squares', count: 3 }]);

    const badLabel = new FormData();
    badLabel.append('label', '../escape');
    expect((await fetch(`${server.url}/v1/projects/${project.id}/images`, { method: 'POST', body: badLabel })).status).toBe(400);
    const missing = await fetch(`${server.url}/v1/projects`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'x', folder: join(root, 'nope') }) });
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('INVALID_DATASET');
    expect((await fetch(`${server.url}/v1/projects/424242`)).status).toBe(404);
    expect((await fetch(`${server.url}/v1/runs/424242/events`)).status).toBe(404);
    const badBackbone = await fetch(`${server.url}/v1/projects/${project.id}/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ backbone: 'nope' }) });
    expect(badBackbone.status).toBe(400);
    const list = (await (await fetch(`${server.url}/v1/projects`)).json()) as { projects: { name: string }[] };
    expect(list.projects.map((p) => p.name).slice(-2)).toEqual(['uploaded', 'shapes']);
  });

  it('shows a run whose backbone is not available offline as failed, with the reason', async () => {
    const project = (await (await fetch(`${server.url}/v1/projects`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'offline', folder: data.root }) })).json()) as { id: number };
    const run = (await (await fetch(`${server.url}/v1/projects/${project.id}/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ epochs: 2, backbone: 'inception_v3' }) })).json()) as { id: number };
    const events = await readEvents(`${server.url}/v1/runs/${run.id}/events`);
    expect(events.at(-1)).toMatchObject({ event: 'status', data: { status: 'failed', error: expect.stringContaining('inception') } });
    const detail = (await (await fetch(`${server.url}/v1/runs/${run.id}`)).json()) as { status: string; error: string };
    expect(detail.status).toBe('failed');
    expect((await fetch(`${server.url}/v1/runs/${run.id}/evaluation`)).status).toBe(404);
  });

  it('marks a run left running by a stopped server as interrupted when the store reopens', async () => {
    const dir = join(root, 'restart');
    const before = DashboardStore.open(dir);
    const project = before.createProject('p', data.root);
    const run = before.createRun(project.id, { epochs: 3, hidden: 0, backbone: 'nsfwjs_mobilenet_v2' }, (id) => join(dir, String(id)));
    before.markRunning(run.id);
    before.addEpoch(run.id, 1, { loss: 1, acc: 0.5 });
    const done = before.createRun(project.id, { epochs: 3, hidden: 0, backbone: 'nsfwjs_mobilenet_v2' }, (id) => join(dir, String(id)));
    before.markFinished(done.id, {});
    before.close();

    const after = DashboardStore.open(dir);
    try {
      expect(after.run(run.id)).toMatchObject({ status: 'interrupted', error: expect.stringMatching(/stopped/) });
      expect(after.run(done.id)!.status).toBe('finished');
      expect(after.epochs(run.id)).toEqual([{ epoch: 1, loss: 1, acc: 0.5 }]);
    } finally {
      after.close();
    }
  });
});
