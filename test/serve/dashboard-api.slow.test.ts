import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { copyFile, cp, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { unzipSync } from 'fflate';
import sharp from 'sharp';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labelIssuesCaveat, WEAK_HEAD_CV_ACCURACY } from '../../src/core/selection-report.js';
import { writeSyntheticDataset, type SyntheticDataset } from '../../src/data/synthetic.js';
import { GraftModel } from '../../src/model/graft-model.js';
import { disposeLayersModel } from '../../src/readers/dispose-layers-model.js';
import { loadLayersModelFromDir } from '../../src/readers/tfjs-layers.js';
import { ensureTfjsBackend } from '../../src/runtime/tfjs-backend.js';
import { DashboardStore } from '../../src/serve/dashboard/dashboard-store.js';
import { startDashboardServer } from '../../src/serve/dashboard/start-dashboard-server.js';
import { storedName } from '../../src/serve/dashboard/receive-upload.js';
import { sniffImageFormat } from '../../src/data/sniff-image-format.js';
import { copySubset, hasShared, hymenoptera, int8Model, skipReason, tempDir } from '../support.js';

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

/**
 * Reads a run's events as they arrive and calls `onEvent` for each (awaiting it) until the stream ends.
 * Returns every event read.
 */
async function followEvents(url: string, onEvent: (event: { event: string; data: Record<string, unknown> }) => Promise<void> | void): Promise<{ event: string; data: Record<string, unknown> }[]> {
  const response = await fetch(url);
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: { event: string; data: Record<string, unknown> }[] = [];
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return events;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (!block.startsWith('event:')) continue;
      const [eventLine, dataLine] = block.split('\n');
      const event = { event: eventLine!.slice('event: '.length), data: JSON.parse(dataLine!.slice('data: '.length)) as Record<string, unknown> };
      events.push(event);
      await onEvent(event);
    }
  }
}

/** The dashboard needs its token on every call: these tests call it as a script would, with the Authorization header. */
let token = '';
const fetch = (url: string, init: RequestInit = {}): Promise<Response> =>
  globalThis.fetch(url, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string> | undefined) } });

const json = (body: unknown): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

interface RunJson {
  id: number;
  status: string;
  error: string | null;
  modelDir: string;
  maxEpochs: number;
  options: { epochs: number; hidden: number; backbone: string; fineTune?: { unfreeze: string; epochs: number; views: number; classWeights: string } };
  epochs: { epoch: number; phase: string; phaseEpoch: number; loss: number }[];
  metrics: {
    fineTune?: { firstEpoch: number; kept: string; holdout?: { images: number; headLoss: number | null; bestLoss: number | null; headAccuracy?: number; bestAccuracy?: number } };
    selection?: { classWeighted?: boolean };
  } | null;
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
    server = await startDashboardServer({ dataDir: join(root, 'ui'), cacheDir, port: 0, dataRoots: [root], offline: true });
    token = server.token;
  });
  afterAll(async () => {
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('creates a project from a folder, chooses a linear head by cross-validation, and evaluates with thumbnails', async () => {
    const created = await fetch(`${server.url}/v1/projects`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'shapes', folder: data.root }) });
    expect(created.status).toBe(201);
    const project = (await created.json()) as { id: number; classes: { label: string; count: number }[] };
    expect(project.classes.map((c) => c.label)).toEqual(['circles', 'squares', 'triangles']);
    expect(project.classes.reduce((n, c) => n + c.count, 0)).toBe(data.files.length + 1);

    const started = await fetch(`${server.url}/v1/projects/${project.id}/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ backbone: 'nsfwjs_mobilenet_v2' }) });
    expect(started.status).toBe(201);
    const run = (await started.json()) as { id: number; status: string; options: { backbone: string; hidden: number } };
    expect(['queued', 'running']).toContain(run.status);
    expect(run.options.hidden).toBe(0);

    // The linear head has no epochs: the stream says how the choice goes, then the status.
    const events = await readEvents(`${server.url}/v1/runs/${run.id}/events`);
    expect(events.filter((e) => e.event === 'epoch-end')).toHaveLength(0);
    expect(events.some((e) => e.event === 'progress' && String(e.data.message).startsWith('choosing the head: C'))).toBe(true);
    expect(events.at(-1)).toMatchObject({ event: 'status', data: { status: 'finished' } });
    const replay = await readEvents(`${server.url}/v1/runs/${run.id}/events`);
    expect(replay.at(-1)!.data.status).toBe('finished');

    const detail = (await (await fetch(`${server.url}/v1/runs/${run.id}`)).json()) as {
      status: string; epochs: unknown[]; metrics: { labels: string[]; selection: { folds: number; chosen: { accuracy: number; c: number }; table: unknown[] }; warnings?: string[] };
    };
    expect(detail.status).toBe('finished');
    expect(detail.epochs).toHaveLength(0);
    expect(detail.metrics.labels).toEqual(['circles', 'squares', 'triangles']);
    expect(detail.metrics.selection.folds).toBeGreaterThanOrEqual(2);
    expect(detail.metrics.selection.chosen.accuracy).toBeGreaterThan(0);
    expect(detail.metrics.selection.table.length).toBeGreaterThan(1);
    expect(detail.metrics.warnings).toBeUndefined();

    const evaluation = (await (await fetch(`${server.url}/v1/runs/${run.id}/evaluation`)).json()) as {
      labels: string[]; confusion: number[][]; perClass: Record<string, { recall: number }>; misclassified: { file: string; true: string; predicted: string; thumbnail: string }[];
      labelIssues: { file: string; given: string; predicted: string; thumbnail: string }[];
      labelIssuesNote?: string;
      accuracy: number; accuracyInterval: { level: number; low: number; high: number };
      balancedAccuracy: number; mostConfused: { true: string; predicted: string; count: number }[]; calibration: { confidence: number; ece: number; eceByChance: number }; logLoss: number;
    };
    expect(evaluation.labels).toEqual(['circles', 'squares', 'triangles']);
    expect(evaluation).toMatchObject({ onTrainingImages: false });
    expect(evaluation.confusion).toHaveLength(3);
    expect(evaluation.confusion.flat().reduce((a, b) => a + b, 0)).toBe(data.valCount + 1);
    expect(Object.keys(evaluation.perClass)).toEqual(['circles', 'squares', 'triangles']);
    const planted = evaluation.misclassified.find((m) => m.file === 'planted-circle.jpg');
    expect(planted).toMatchObject({ true: 'squares', predicted: 'circles' });
    // The planted mistake is among the pairs most confused; the scores a held-out set gives are kept with the run.
    expect(evaluation.mostConfused).toContainEqual(expect.objectContaining({ true: 'squares', predicted: 'circles' }));
    expect(evaluation.mostConfused.reduce((sum, p) => sum + p.count, 0)).toBeLessThanOrEqual(evaluation.misclassified.length);
    expect(evaluation.accuracyInterval.level).toBe(0.95);
    expect(evaluation.accuracyInterval.low).toBeLessThanOrEqual(evaluation.accuracy);
    expect(evaluation.accuracyInterval.high).toBeGreaterThanOrEqual(evaluation.accuracy);
    expect(evaluation.balancedAccuracy).toBeGreaterThan(0);
    expect(evaluation.calibration.confidence).toBeGreaterThan(1 / 3);
    expect(evaluation.calibration.ece).toBeGreaterThanOrEqual(0);
    expect(evaluation.calibration.eceByChance).toBeGreaterThan(0);
    expect(evaluation.logLoss).toBeGreaterThan(0);
    expect(Array.isArray(evaluation.labelIssues)).toBe(true);
    for (const issue of evaluation.labelIssues) expect((await fetch(`${server.url}${issue.thumbnail}`)).status).toBe(200);
    // The note on a weak head's list comes with the list, as the CLI and the report say it.
    const weak = evaluation.labelIssues.length > 0 && detail.metrics.selection.chosen.accuracy < WEAK_HEAD_CV_ACCURACY;
    expect(evaluation.labelIssuesNote).toBe(weak ? labelIssuesCaveat(detail.metrics.selection) : undefined);

    const thumbnail = await fetch(`${server.url}${planted!.thumbnail}`);
    expect(thumbnail.status).toBe(200);
    expect(thumbnail.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(await thumbnail.arrayBuffer()).subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    expect((await fetch(`${server.url}/v1/runs/${run.id}/thumbnails/999`)).status).toBe(404);
    expect((await fetch(`${server.url}/v1/runs/${run.id}/label-issues/999/thumbnail`)).status).toBe(404);
  });

  it('streams and replays the epochs of an MLP head', async () => {
    const project = (await (await fetch(`${server.url}/v1/projects`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'mlp', folder: data.root }) })).json()) as { id: number };
    const run = (await (await fetch(`${server.url}/v1/projects/${project.id}/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ epochs: 4, hidden: 16, backbone: 'nsfwjs_mobilenet_v2' }) })).json()) as { id: number };
    const events = await readEvents(`${server.url}/v1/runs/${run.id}/events`);
    const epochs = events.filter((e) => e.event === 'epoch-end');
    expect(epochs.length).toBeGreaterThanOrEqual(1);
    expect(epochs[0]!.data).toMatchObject({ epoch: expect.any(Number), logs: { loss: expect.any(Number), acc: expect.any(Number) } });
    expect(events.at(-1)).toMatchObject({ event: 'status', data: { status: 'finished' } });
    // A finished run's stream replays the stored epochs, then its final status, and ends.
    const replay = await readEvents(`${server.url}/v1/runs/${run.id}/events`);
    expect(replay.filter((e) => e.event === 'epoch-end')).toHaveLength(epochs.length);
    const detail = (await (await fetch(`${server.url}/v1/runs/${run.id}`)).json()) as { epochs: unknown[] };
    expect(detail.epochs).toHaveLength(epochs.length);
  });

  it('trains with the bundled backbone when the default cannot be had offline, and says so on the run', async () => {
    const project = (await (await fetch(`${server.url}/v1/projects`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'default', folder: data.root }) })).json()) as { id: number };
    const run = (await (await fetch(`${server.url}/v1/projects/${project.id}/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({}) })).json()) as { id: number; options: { backbone: string } };
    expect(run.options.backbone).toBe('mobilenet_v2');
    const events = await readEvents(`${server.url}/v1/runs/${run.id}/events`);
    expect(events.at(-1)).toMatchObject({ event: 'status', data: { status: 'finished' } });
    expect(events.some((e) => e.event === 'progress' && String(e.data.message).startsWith('warning: mobilenet_v2 could not be had'))).toBe(true);
    const detail = (await (await fetch(`${server.url}/v1/runs/${run.id}`)).json()) as { metrics: { backbone: string; warnings: string[] } };
    expect(detail.metrics.backbone).toBe('nsfwjs_mobilenet_v2');
    expect(detail.metrics.warnings[0]).toMatch(/mobilenet_v2 could not be had .*trained with nsfwjs_mobilenet_v2 instead/);
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
    // Newest first.
    expect(list.projects[0]!.name).toBe('uploaded');
    expect(list.projects.map((p) => p.name).at(-1)).toBe('shapes');
  });

  it('refuses a second project of one name, case and spaces aside (409, before its folder is looked at), and stores names tidy', async () => {
    const url = `${server.url}/v1/projects`;
    const errorOf = async (response: Response) => ((await response.json()) as { error: { code: string; message: string; hint?: string } }).error;
    const first = await fetch(url, json({ name: '  Bees   and wasps ', folder: data.root }));
    expect(first.status).toBe(201);
    const bees = (await first.json()) as { id: number; name: string };
    expect(bees.name).toBe('Bees and wasps');
    // Another case, other spaces, full-width letters, an upload project, a folder outside the data roots: the same name.
    for (const [body, said] of [
      [{ name: 'bees and wasps' }, 'bees and wasps'],
      [{ name: ' BEES AND\tWASPS', folder: data.root }, 'BEES AND WASPS'],
      [{ name: 'ＢＥＥＳ and wasps', folder: '/etc' }, 'ＢＥＥＳ and wasps'],
    ] as const) {
      const response = await fetch(url, json(body));
      expect(response.status, JSON.stringify(body)).toBe(409);
      expect(await errorOf(response)).toMatchObject({
        code: 'CONFLICT',
        message: `The name "${said}" is taken by project #${bees.id} ("Bees and wasps"); project names differ by more than case and spaces.`,
        hint: `choose another name, or use project #${bees.id}`,
      });
    }
    const blank = await fetch(url, json({ name: ' \t ' }));
    expect(blank.status).toBe(400);
    expect((await errorOf(blank)).message).toMatch(/^A project needs a name; this one is only white space\. Received: name=/);
    // Two requests for one name at once (one reads its folder first): one project, the other refused.
    const race = await Promise.all([fetch(url, json({ name: 'race', folder: data.root })), fetch(url, json({ name: 'RACE' }))]);
    expect(race.map((r) => r.status).sort()).toEqual([201, 409]);
    const names = ((await (await fetch(url)).json()) as { projects: { name: string }[] }).projects.map((p) => p.name);
    expect(names.filter((n) => n.toLowerCase() === 'race')).toHaveLength(1);
    expect(names.filter((n) => n.toLowerCase() === 'bees and wasps')).toEqual(['Bees and wasps']);
    // A deleted project's name is free again.
    expect((await fetch(`${url}/${bees.id}`, { method: 'DELETE', headers: { 'x-graft-request': '1' } })).status).toBe(204);
    expect((await fetch(url, json({ name: 'bees and wasps' }))).status).toBe(201);
  });

  it('keeps its state honest: unknown fields, empty or one-image classes, changes under a run, a second server, a damaged store', async () => {
    const upload = async (projectId: number, label: string, files: string[]) => {
      const form = new FormData();
      form.append('label', label);
      for (const file of files) form.append('files', new Blob([await readFile(file)], { type: 'image/jpeg' }), file.split('/').at(-1));
      return fetch(`${server.url}/v1/projects/${projectId}/images`, { method: 'POST', body: form });
    };
    const errorOf = async (response: Response) => ((await response.json()) as { error: { code: string; message: string } }).error;
    const project = (await (await fetch(`${server.url}/v1/projects`, json({ name: 'state' }))).json()) as { id: number };
    const circles = data.files.filter((f) => f.includes('/train/circles/'));
    const squares = data.files.filter((f) => f.includes('/train/squares/'));
    expect((await upload(project.id, 'circles', circles.slice(0, 4))).status).toBe(201);

    // A typo was dropped and the run trained with the defaults.
    const typo = await fetch(`${server.url}/v1/projects/${project.id}/runs`, json({ hiden: 64 }));
    expect(typo.status).toBe(400);
    expect((await errorOf(typo)).message).toContain('unknown field "hiden"');
    // An upload with no file left an empty class folder that failed every later run.
    const empty = await upload(project.id, 'ghost', []);
    expect(empty.status).toBe(400);
    expect(((await (await fetch(`${server.url}/v1/projects/${project.id}`)).json()) as { classes: { label: string }[] }).classes.map((c) => c.label)).toEqual(['circles']);
    // A class of one image: refused when the run is asked for, not failed seconds later.
    expect((await upload(project.id, 'squares', squares.slice(0, 1))).status).toBe(201);
    const single = await fetch(`${server.url}/v1/projects/${project.id}/runs`, json({ backbone: 'nsfwjs_mobilenet_v2' }));
    expect(single.status).toBe(400);
    expect((await errorOf(single)).message).toMatch(/"squares" .* has one image/);
    // Its last image deleted, the class goes too.
    const [stored] = ((await (await fetch(`${server.url}/v1/projects/${project.id}/classes/squares`)).json()) as { images: { name: string }[] }).images;
    expect((await fetch(`${server.url}/v1/projects/${project.id}/classes/squares/images/${stored!.name}`, { method: 'DELETE' })).status).toBe(204);
    expect(((await (await fetch(`${server.url}/v1/projects/${project.id}`)).json()) as { classes: { label: string }[] }).classes.map((c) => c.label)).toEqual(['circles']);
    // While a run is queued or training, the images it reads stay as they are.
    expect((await upload(project.id, 'squares', squares.slice(0, 4))).status).toBe(201);
    const run = (await (await fetch(`${server.url}/v1/projects/${project.id}/runs`, json({ backbone: 'nsfwjs_mobilenet_v2', hidden: 64, epochs: 200 }))).json()) as { id: number };
    const during = await upload(project.id, 'squares', squares.slice(4, 5));
    expect(during.status).toBe(409);
    expect((await fetch(`${server.url}/v1/projects/${project.id}/classes/circles`, { method: 'DELETE' })).status).toBe(409);
    await fetch(`${server.url}/v1/runs/${run.id}/cancel`, { method: 'POST' });
    expect((await readEvents(`${server.url}/v1/runs/${run.id}/events`)).at(-1)?.data.status).toMatch(/cancelled|finished/);
    expect((await fetch(`${server.url}/v1/runs/${run.id}/thumbnails/0?size=abc`)).status).toBeGreaterThanOrEqual(400);

    // A second server on the same folder marked the first one's running run as interrupted.
    const second = (await startDashboardServer({ dataDir: join(root, 'ui'), cacheDir, port: 0, offline: true }).catch((e: unknown) => e)) as { code?: string; message: string };
    expect(second).toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringContaining('in use by another graft ui') });
    // A store that is not a database is named, with what to do (it was 'file is not a database', exit 4).
    const damaged = join(root, 'damaged-ui');
    await mkdir(damaged, { recursive: true });
    await writeFile(join(damaged, 'dashboard.sqlite'), Buffer.alloc(4096, 7));
    const opened = (await startDashboardServer({ dataDir: damaged, cacheDir, port: 0, offline: true }).catch((e: unknown) => e)) as { code?: string; message: string; hint?: string };
    expect(opened).toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringContaining(join(damaged, 'dashboard.sqlite')), hint: expect.stringContaining('move the file aside') });
    // ...and a folder whose lock's process is gone is taken over.
    await writeFile(join(damaged, 'dashboard.sqlite'), '');
    const { spawnSync } = await import('node:child_process');
    const { hostname } = await import('node:os');
    await writeFile(join(damaged, 'graft.lock'), `${spawnSync(process.execPath, ['-e', '']).pid}\n${hostname()}\n`);
    const taken = await startDashboardServer({ dataDir: damaged, cacheDir, port: 0, offline: true });
    await taken.close();
    expect(existsSync(join(damaged, 'graft.lock'))).toBe(false);
    // A restarted container is pid 1 again on the same host name: a lock naming this pid, not held here, is the
    // killed server's (it was taken for a live one, and a restart policy looped on the refusal).
    await writeFile(join(damaged, 'graft.lock'), `${process.pid}\n${hostname()}\n`);
    const restarted = await startDashboardServer({ dataDir: damaged, cacheDir, port: 0, offline: true });
    await restarted.close();
  });

  it('shows a run whose backbone is not available offline as failed, with the reason, and keeps no files of it', async () => {
    const project = (await (await fetch(`${server.url}/v1/projects`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'offline', folder: data.root }) })).json()) as { id: number };
    const run = (await (await fetch(`${server.url}/v1/projects/${project.id}/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ epochs: 2, backbone: 'inception_v3' }) })).json()) as RunJson;
    const events = await readEvents(`${server.url}/v1/runs/${run.id}/events`);
    expect(events.at(-1)).toMatchObject({ event: 'status', data: { status: 'failed', error: expect.stringContaining('inception') } });
    const detail = (await (await fetch(`${server.url}/v1/runs/${run.id}`)).json()) as RunJson;
    expect(detail).toMatchObject({ status: 'failed', error: expect.stringContaining('inception') });
    expect((await fetch(`${server.url}/v1/runs/${run.id}/evaluation`)).status).toBe(404);
    // Before: an empty runs/<id>/ stayed behind for every failed run.
    expect(detail.modelDir).toBe(join(root, 'ui', 'runs', String(run.id), 'model'));
    expect(existsSync(join(detail.modelDir, '..')), 'the run folder is removed').toBe(false);
  });

  it('keeps no files of a run whose images were deleted after it was queued', async () => {
    const folder = join(root, 'emptied');
    await cp(data.trainDir, folder, { recursive: true });
    const project = (await (await fetch(`${server.url}/v1/projects`, json({ name: 'emptied', folder }))).json()) as { id: number };
    const url = `${server.url}/v1/projects/${project.id}/runs`;
    // An MLP run ahead of it holds the queue while the folder is emptied; it is cancelled once the second is queued.
    const ahead = (await (await fetch(url, json({ epochs: 500, hidden: 256, backbone: 'nsfwjs_mobilenet_v2' }))).json()) as RunJson;
    const run = (await (await fetch(url, json({ backbone: 'nsfwjs_mobilenet_v2' }))).json()) as RunJson;
    expect(run.status).toBe('queued');
    await rm(folder, { recursive: true });
    await fetch(`${server.url}/v1/runs/${ahead.id}/cancel`, { method: 'POST' });
    expect((await readEvents(`${server.url}/v1/runs/${run.id}/events`)).at(-1)).toMatchObject({ event: 'status', data: { status: 'failed' } });
    const detail = (await (await fetch(`${server.url}/v1/runs/${run.id}`)).json()) as RunJson;
    expect(detail.error).toBeTruthy();
    expect(existsSync(join(detail.modelDir, '..')), 'the run folder is removed').toBe(false);
    expect(existsSync(join(ahead.modelDir, '..')), 'the cancelled run folder is removed').toBe(false);
  });

  it('says when it scored the training images (no val/ folder), and names the images training could not read', async () => {
    const folder = join(root, 'no-val');
    await cp(data.trainDir, folder, { recursive: true });
    await writeFile(join(folder, 'circles', 'bad.jpg'), 'not an image');
    const project = (await (await fetch(`${server.url}/v1/projects`, json({ name: 'no-val', folder }))).json()) as { id: number };
    const run = (await (await fetch(`${server.url}/v1/projects/${project.id}/runs`, json({ backbone: 'nsfwjs_mobilenet_v2' }))).json()) as { id: number };
    expect((await readEvents(`${server.url}/v1/runs/${run.id}/events`)).at(-1)).toMatchObject({ event: 'status', data: { status: 'finished' } });
    // Before: counted in metrics.images.skipped, said nowhere the page shows.
    const detail = (await (await fetch(`${server.url}/v1/runs/${run.id}`)).json()) as { metrics: { warnings?: string[] } };
    expect(detail.metrics.warnings).toEqual([expect.stringMatching(/^1 image could not be read and was left out: bad\.jpg \(.*text/)]);
    // Before: 'Accuracy 100% on 16 images', the training images, as if held out.
    expect(await (await fetch(`${server.url}/v1/runs/${run.id}/evaluation`)).json()).toMatchObject({ onTrainingImages: true });
  });

  it('marks a run left running by a stopped server as interrupted when the store reopens', async () => {
    const dir = join(root, 'restart');
    const before = DashboardStore.open(dir);
    const project = before.createProject('p', data.root);
    const run = before.createRun(project.id, { epochs: 3, hidden: 0, backbone: 'nsfwjs_mobilenet_v2' }, (id) => join(dir, String(id)));
    before.markRunning(run.id);
    before.addEpoch(run.id, 'head', 1, { loss: 1, acc: 0.5 });
    // It was fine-tuning: its checkpoint, which nothing will resume, goes when a dashboard opens the store again.
    await writeFile(join(dir, `${run.id}.checkpoint`), 'checkpoint');
    const done = before.createRun(project.id, { epochs: 3, hidden: 0, backbone: 'nsfwjs_mobilenet_v2' }, (id) => join(dir, String(id)));
    before.markFinished(done.id, {});
    before.close();

    const after = DashboardStore.open(dir);
    try {
      expect(after.run(run.id)).toMatchObject({ status: 'interrupted', error: expect.stringMatching(/stopped/) });
      const restarted = await startDashboardServer({ dataDir: dir, cacheDir, port: 0, offline: true });
      await restarted.close();
      expect(existsSync(join(dir, `${run.id}.checkpoint`))).toBe(false);
      expect(after.run(done.id)!.status).toBe('finished');
      expect(after.epochs(run.id)).toEqual([{ epoch: 1, phase: 'head', phaseEpoch: 1, loss: 1, acc: 0.5 }]);
    } finally {
      after.close();
    }
  });

  it('reads a store written before phases existed, and numbers fine-tuning epochs after the head epochs', async () => {
    const dir = join(root, 'v1');
    await mkdir(dir, { recursive: true });
    // The version-1 schema, as PR 5 wrote it: no phase columns, runs without fineTune options.
    const old = new Database(join(dir, 'dashboard.sqlite'));
    old.exec(`
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE projects (id INTEGER PRIMARY KEY, name TEXT NOT NULL, data_dir TEXT NOT NULL, created TEXT NOT NULL);
      CREATE TABLE runs (id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL REFERENCES projects(id), status TEXT NOT NULL,
        options TEXT NOT NULL, model_dir TEXT NOT NULL, metrics TEXT, evaluation TEXT, error TEXT, started TEXT, ended TEXT, created TEXT NOT NULL);
      CREATE TABLE epochs (run_id INTEGER NOT NULL REFERENCES runs(id), epoch INTEGER NOT NULL, loss REAL NOT NULL, acc REAL NOT NULL,
        val_loss REAL, val_acc REAL, PRIMARY KEY (run_id, epoch));
      INSERT INTO meta VALUES ('schema', '1');
      INSERT INTO projects VALUES (1, 'old', '/data', '2024-01-01T00:00:00.000Z');
      INSERT INTO runs (id, project_id, status, options, model_dir, created) VALUES (1, 1, 'finished', '{"epochs":3,"hidden":0,"backbone":"mobilenet_v2"}', '/m', '2024-01-01T00:00:00.000Z');
      INSERT INTO epochs VALUES (1, 1, 0.9, 0.5, 1.0, 0.4), (1, 2, 0.5, 0.8, 0.6, 0.7);
    `);
    old.close();
    const store = DashboardStore.open(dir);
    try {
      expect(store.run(1)).toMatchObject({ status: 'finished', options: { epochs: 3, hidden: 0, backbone: 'mobilenet_v2' } });
      expect(store.run(1)!.options.fineTune).toBeUndefined();
      expect(store.epochs(1)).toEqual([
        { epoch: 1, phase: 'head', phaseEpoch: 1, loss: 0.9, acc: 0.5, val_loss: 1.0, val_acc: 0.4 },
        { epoch: 2, phase: 'head', phaseEpoch: 2, loss: 0.5, acc: 0.8, val_loss: 0.6, val_acc: 0.7 },
      ]);
      // Fine-tuning restarts its epochs at 1; the store files them after the head's, without overwriting them.
      const run = store.createRun(1, { epochs: 2, hidden: 0, backbone: 'mobilenet_v2', fineTune: { unfreeze: 'last:1', epochs: 2, views: 0, classWeights: 'none' } }, (id) => join(dir, String(id)));
      store.addEpoch(run.id, 'head', 1, { loss: 1, acc: 0.5 });
      store.addEpoch(run.id, 'head', 2, { loss: 0.8, acc: 0.6 });
      expect(store.addEpoch(run.id, 'fine-tune', 1, { loss: 0.6, acc: 0.7 })).toMatchObject({ epoch: 3, phase: 'fine-tune', phaseEpoch: 1 });
      store.addEpoch(run.id, 'fine-tune', 2, { loss: 0.5, acc: 0.8 });
      expect(store.epochs(run.id).map((e) => [e.epoch, e.phase, e.phaseEpoch])).toEqual([[1, 'head', 1], [2, 'head', 2], [3, 'fine-tune', 1], [4, 'fine-tune', 2]]);
      expect(store.run(run.id)!.options.fineTune).toEqual({ unfreeze: 'last:1', epochs: 2, views: 0, classWeights: 'none' });
    } finally {
      store.close();
    }
  });

  it('validates fine-tuning options, stores them with the run, and takes defaults for those left out', async () => {
    const project = (await (await fetch(`${server.url}/v1/projects`, json({ name: 'fine-tune options', folder: data.root }))).json()) as { id: number };
    const url = `${server.url}/v1/projects/${project.id}/runs`;
    for (const fineTune of [{ unfreeze: 'some' }, { unfreeze: 'last:0' }, { unfreeze: 'from:x' }, { epochs: 0 }, { views: 99 }, { classWeights: 'inverse' }, true]) {
      const refused = await fetch(url, json({ epochs: 2, backbone: 'nsfwjs_mobilenet_v2', fineTune }));
      expect(refused.status, JSON.stringify(fineTune)).toBe(400);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('BAD_REQUEST');
    }
    const before = (await (await fetch(`${server.url}/v1/projects/${project.id}`)).json()) as { runs: unknown[] };
    expect(before.runs).toHaveLength(0);

    // Stored, then cancelled at once (these runs are about their options, not their training).
    const created = await fetch(url, json({ epochs: 4, hidden: 0, backbone: 'nsfwjs_mobilenet_v2', fineTune: { unfreeze: 'last:1', epochs: 2, views: 0, classWeights: 'balanced' } }));
    expect(created.status).toBe(201);
    const run = (await created.json()) as RunJson;
    const defaults = (await (await fetch(url, json({ epochs: 4, hidden: 0, backbone: 'nsfwjs_mobilenet_v2', fineTune: {} }))).json()) as RunJson;
    const plain = (await (await fetch(url, json({ epochs: 4, hidden: 0, backbone: 'nsfwjs_mobilenet_v2' }))).json()) as RunJson;
    for (const r of [plain, defaults, run]) expect((await fetch(`${server.url}/v1/runs/${r.id}/cancel`, { method: 'POST' })).status).toBeLessThan(300);

    expect(run.options.fineTune).toEqual({ unfreeze: 'last:1', epochs: 2, views: 0, classWeights: 'balanced' });
    // A linear head is solved, with no epochs: the run's epochs are fine-tuning's alone.
    expect(run.maxEpochs).toBe(2);
    expect(plain.maxEpochs).toBe(0);
    expect(defaults.options.fineTune).toEqual({ unfreeze: 'last:3', epochs: 6, views: 2, classWeights: 'balanced' });
    expect(plain.options.fineTune).toBeUndefined();
    const stored = (await (await fetch(`${server.url}/v1/runs/${run.id}`)).json()) as RunJson;
    expect(stored.options.fineTune).toEqual(run.options.fineTune);
    expect(stored.status).toBe('cancelled');
  });

  it('takes corner crops as a run option, stores it, and passes it to training (which says when the backbone cannot have them)', async () => {
    const project = (await (await fetch(`${server.url}/v1/projects`, json({ name: 'crops', folder: data.root }))).json()) as { id: number };
    const url = `${server.url}/v1/projects/${project.id}/runs`;
    const refused = await fetch(url, json({ backbone: 'nsfwjs_mobilenet_v2', crops: 'yes' }));
    expect(refused.status).toBe(400);
    const run = (await (await fetch(url, json({ backbone: 'nsfwjs_mobilenet_v2', crops: true }))).json()) as RunJson & { options: { crops?: boolean } };
    expect(run.options.crops).toBe(true);
    // The bundled backbone stretches its input (one scale): the corner crops are cut from the two-scale input, so
    // `--crops auto` is skipped, with a warning in the run's stream, and the run trains on.
    const events = await readEvents(`${server.url}/v1/runs/${run.id}/events`);
    expect(events.some((e) => e.event === 'progress' && String(e.data.message).includes("crops: 'auto' (--crops auto) skipped"))).toBe(true);
    expect(events.at(-1)).toMatchObject({ event: 'status', data: { status: 'finished' } });
    const stored = (await (await fetch(`${server.url}/v1/runs/${run.id}`)).json()) as { options: { crops?: boolean } };
    expect(stored.options.crops).toBe(true);
    const plain = (await (await fetch(url, json({ backbone: 'nsfwjs_mobilenet_v2' }))).json()) as { id: number; options: { crops?: boolean } };
    expect(plain.options.crops).toBeUndefined();
    await fetch(`${server.url}/v1/runs/${plain.id}/cancel`, { method: 'POST' });
  });

  it('cancels a queued run and a running run (after its first epoch); a cancelled run keeps no model', async () => {
    const project = (await (await fetch(`${server.url}/v1/projects`, json({ name: 'cancel', folder: data.root }))).json()) as { id: number };
    const url = `${server.url}/v1/projects/${project.id}/runs`;
    const running = (await (await fetch(url, json({ epochs: 500, hidden: 256, backbone: 'nsfwjs_mobilenet_v2' }))).json()) as RunJson;
    // One run trains at a time: the second waits in the queue and is taken out of it.
    const queued = (await (await fetch(url, json({ epochs: 2, hidden: 0, backbone: 'nsfwjs_mobilenet_v2' }))).json()) as RunJson;
    expect(queued.status).toBe('queued');
    const dequeued = await fetch(`${server.url}/v1/runs/${queued.id}/cancel`, { method: 'POST' });
    expect(dequeued.status).toBe(200);
    expect((await dequeued.json()) as RunJson).toMatchObject({ status: 'cancelled', error: expect.stringMatching(/never started/) });

    let cancel: Response | undefined;
    const events = await followEvents(`${server.url}/v1/runs/${running.id}/events`, async (e) => {
      if (e.event === 'epoch-end' && !cancel) cancel = await fetch(`${server.url}/v1/runs/${running.id}/cancel`, { method: 'POST' });
    });
    expect(cancel, 'an epoch ended before the run did').toBeDefined();
    expect(cancel!.status).toBe(200);
    expect(((await cancel!.json()) as RunJson).status).toBe('cancelled');
    expect(events.at(-1)).toMatchObject({ event: 'status', data: { status: 'cancelled', error: expect.stringMatching(/no model was written/) } });

    const detail = (await (await fetch(`${server.url}/v1/runs/${running.id}`)).json()) as RunJson;
    expect(detail.status).toBe('cancelled');
    expect(detail.epochs.length).toBeGreaterThanOrEqual(1);
    expect(existsSync(detail.modelDir)).toBe(false);
    expect(existsSync(`${detail.modelDir}.checkpoint`)).toBe(false);
    expect(existsSync(join(detail.modelDir, '..')), 'the run folder is removed').toBe(false);
    expect((await fetch(`${server.url}/v1/runs/${running.id}/evaluation`)).status).toBe(404);
    // The queued run never started, even after the running one stopped.
    expect(((await (await fetch(`${server.url}/v1/runs/${queued.id}`)).json()) as RunJson)).toMatchObject({ status: 'cancelled', epochs: [] });
    // A cancelled run's stream replays its epochs and says cancelled.
    const replay = await readEvents(`${server.url}/v1/runs/${running.id}/events`);
    expect(replay.at(-1)!.data.status).toBe('cancelled');

    // Cancelled stays cancelled (not interrupted) when the store reopens.
    const reopened = DashboardStore.open(join(root, 'cancel-reopen'));
    const p = reopened.createProject('p', data.root);
    const r = reopened.createRun(p.id, { epochs: 3, hidden: 0, backbone: 'nsfwjs_mobilenet_v2' }, (id) => join(root, 'cancel-reopen', String(id)));
    reopened.markRunning(r.id);
    reopened.markCancelled(r.id, 'stopped after 1 epoch(s); no model was written');
    reopened.close();
    const again = DashboardStore.open(join(root, 'cancel-reopen'));
    expect(again.run(r.id)!.status).toBe('cancelled');
    again.close();
  });

  it('refuses to cancel an unknown run (404) and a run that already ended (409), as JSON errors', async () => {
    const unknown = await fetch(`${server.url}/v1/runs/424242/cancel`, { method: 'POST' });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');

    const { store } = server.dashboard;
    const project = store.createProject('ended', data.root);
    for (const end of ['finished', 'failed', 'cancelled'] as const) {
      const run = store.createRun(project.id, { epochs: 1, hidden: 0, backbone: 'nsfwjs_mobilenet_v2' }, (id) => join(root, 'ended', String(id)));
      if (end === 'finished') store.markFinished(run.id, {});
      else if (end === 'failed') store.markFailed(run.id, 'boom');
      else store.markCancelled(run.id, 'it never started');
      const refused = await fetch(`${server.url}/v1/runs/${run.id}/cancel`, { method: 'POST' });
      expect(refused.status).toBe(409);
      expect(refused.headers.get('content-type')).toMatch(/application\/json/);
      const body = (await refused.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('CONFLICT');
      expect(body.error.message).toContain(`already ${end}`);
      expect(store.run(run.id)!.status).toBe(end);
    }
  });
  it("downloads a finished run's model.onnx and graft.json, named after project and run (the two are a model directory), and the model as a Teachable Machine zip", async () => {
    const project = (await (await fetch(`${server.url}/v1/projects`, json({ name: 'my shapes', folder: data.root }))).json()) as { id: number };
    const run = (await (await fetch(`${server.url}/v1/projects/${project.id}/runs`, json({ backbone: 'nsfwjs_mobilenet_v2' }))).json()) as RunJson;
    expect((await readEvents(`${server.url}/v1/runs/${run.id}/events`)).at(-1)).toMatchObject({ data: { status: 'finished' } });
    const onnx = await fetch(`${server.url}/v1/runs/${run.id}/model.onnx`);
    expect(onnx.status).toBe(200);
    expect(onnx.headers.get('content-type')).toBe('application/octet-stream');
    expect(onnx.headers.get('content-disposition')).toBe(`attachment; filename="my-shapes-run${run.id}.onnx"; filename*=UTF-8''my-shapes-run${run.id}.onnx`);
    const onnxBytes = Buffer.from(await onnx.arrayBuffer());
    expect(onnxBytes.equals(await readFile(join(run.modelDir, 'model.onnx')))).toBe(true);
    const manifest = await fetch(`${server.url}/v1/runs/${run.id}/graft.json`);
    expect(manifest.status).toBe(200);
    expect(manifest.headers.get('content-type')).toMatch(/^application\/json/);
    expect(manifest.headers.get('content-disposition')).toContain(`filename="my-shapes-run${run.id}.graft.json"`);
    const manifestText = await manifest.text();
    expect(JSON.parse(manifestText)).toMatchObject({ labels: ['circles', 'squares', 'triangles'], preprocessing: expect.any(Object) });

    // The two files, saved under their names in the model directory, are what graft predict needs.
    const dir = join(root, 'downloaded-model');
    await mkdir(dir);
    await writeFile(join(dir, 'model.onnx'), onnxBytes);
    await writeFile(join(dir, 'graft.json'), manifestText);
    const model = await GraftModel.load(dir);
    try {
      const circle = data.files.find((f) => f.includes('/val/circles/'))!;
      const { results } = await model.predict([circle]);
      expect(results[0]!.predictions[0]!.label).toBe('circles');
    } finally {
      await model.dispose();
    }

    // As Teachable Machine's "Download my model" gives it: a zip of its three files, made once (two requests at once
    // share the work) and kept in the run's folder.
    const zipUrl = `${server.url}/v1/runs/${run.id}/teachable-machine.zip`;
    const [first, second] = await Promise.all([fetch(zipUrl), fetch(zipUrl)]);
    for (const response of [first, second]) {
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/zip');
      expect(response.headers.get('content-disposition')).toContain(`filename="my-shapes-run${run.id}-teachable-machine.zip"`);
    }
    const zip = Buffer.from(await first.arrayBuffer());
    expect(Buffer.from(await second.arrayBuffer()).equals(zip)).toBe(true);
    expect(zip.equals(await readFile(join(dirname(run.modelDir), 'teachable-machine.zip')))).toBe(true);
    const unzipped = unzipSync(zip);
    expect(Object.keys(unzipped).sort()).toEqual(['metadata.json', 'model.json', 'weights.bin']);
    expect(JSON.parse(Buffer.from(unzipped['metadata.json']!).toString('utf8'))).toMatchObject({ labels: ['circles', 'squares', 'triangles'], packageName: '@teachablemachine/image' });
    // Unzipped, it answers the circle as the run's model does, fed as Teachable Machine's library feeds it.
    const tmDir = join(root, 'downloaded-tm');
    await mkdir(tmDir);
    for (const [name, bytes] of Object.entries(unzipped)) await writeFile(join(tmDir, name), bytes);
    await ensureTfjsBackend();
    const tm = await loadLayersModelFromDir(tmDir);
    try {
      const circle = data.files.find((f) => f.includes('/val/circles/'))!;
      const square = await sharp(circle).resize(224, 224, { fit: 'fill' }).removeAlpha().raw().toBuffer();
      const x = tf.tensor4d(Float32Array.from(square, (v) => v / 127 - 1), [1, 224, 224, 3]);
      const top = tf.tidy(() => (tm.predict(x) as tf.Tensor).argMax(-1).dataSync()[0]!);
      x.dispose();
      expect(['circles', 'squares', 'triangles'][top]).toBe('circles');
    } finally {
      disposeLayersModel(tm);
    }

    // A run without a model: 404 in JSON, for each file.
    const { store } = server.dashboard;
    const failed = store.createRun(project.id, { epochs: 1, hidden: 0, backbone: 'nsfwjs_mobilenet_v2' }, (id) => join(root, 'ui', 'runs', String(id), 'model'));
    store.markFailed(failed.id, 'boom');
    for (const path of [`${failed.id}/model.onnx`, `${failed.id}/graft.json`, `${failed.id}/teachable-machine.zip`, '424242/model.onnx']) {
      const missing = await fetch(`${server.url}/v1/runs/${path}`);
      expect(missing.status, path).toBe(404);
      expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
    }
    expect(((await (await fetch(`${server.url}/v1/runs/${failed.id}/model.onnx`)).json()) as { error: { message: string } }).error.message).toBe(`Run ${failed.id} has no model (status: failed).`);
  });

  it("tries a finished run's model on uploaded images, as the prediction API answers; a run without a model is a 404", async () => {
    const project = (await (await fetch(`${server.url}/v1/projects`, json({ name: 'try shapes', folder: data.root }))).json()) as { id: number };
    const run = (await (await fetch(`${server.url}/v1/projects/${project.id}/runs`, json({ backbone: 'nsfwjs_mobilenet_v2' }))).json()) as RunJson;
    expect((await readEvents(`${server.url}/v1/runs/${run.id}/events`)).at(-1)).toMatchObject({ data: { status: 'finished' } });
    const circle = data.files.find((f) => f.includes('/val/circles/'))!;
    const triangle = data.files.find((f) => f.includes('/val/triangles/'))!;
    const model = await GraftModel.load(run.modelDir);
    const expected = await model.predict([circle, triangle]);
    await model.dispose();

    // As the page sends it: one image, multipart; every class comes back, most likely first.
    const form = new FormData();
    form.append('image', new Blob([new Uint8Array(await readFile(circle))], { type: 'image/jpeg' }), 'circle.jpg');
    const one = await fetch(`${server.url}/v1/runs/${run.id}/predict`, { method: 'POST', body: form });
    expect(one.status).toBe(200);
    const answer = (await one.json()) as { run: number; predictions: { label: string; probability: number }[]; timing_ms: { total: number } };
    expect(answer.run).toBe(run.id);
    expect(answer.predictions.map((p) => p.label)).toEqual(expected.results[0]!.predictions.map((p) => p.label));
    answer.predictions.forEach((p, i) => expect(p.probability).toBeCloseTo(expected.results[0]!.predictions[i]!.probability, 5));
    expect(answer.timing_ms.total).toBeGreaterThan(0);

    // A script: JSON, two images, top_k.
    const images = await Promise.all([circle, triangle].map(async (f) => (await readFile(f)).toString('base64')));
    const batch = (await (await fetch(`${server.url}/v1/runs/${run.id}/predict?top_k=1`, json({ images }))).json()) as { results: { predictions: { label: string }[] }[] };
    expect(batch.results.map((r) => r.predictions.map((p) => p.label))).toEqual(expected.results.map((r) => [r.predictions[0]!.label]));

    // The prediction API's third form, a raw image body: refused as 415 before, by a message whose hint offered it.
    const raw = await fetch(`${server.url}/v1/runs/${run.id}/predict?top_k=1`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: new Uint8Array(await readFile(circle)) });
    expect(raw.status).toBe(200);
    expect(((await raw.json()) as { predictions: { label: string }[] }).predictions.map((p) => p.label)).toEqual([expected.results[0]!.predictions[0]!.label]);

    const bad = await fetch(`${server.url}/v1/runs/${run.id}/predict`, json({ image: Buffer.from('not an image').toString('base64') }));
    expect(bad.status).toBe(415);

    // A finished run whose folder was changed by hand (its model.onnx deleted): a 409 naming the run and what is
    // wrong, without the server's paths; it was a generic 500.
    const { store } = server.dashboard;
    const damagedDir = join(root, 'damaged-run', 'model');
    await cp(run.modelDir, damagedDir, { recursive: true });
    await rm(join(damagedDir, 'model.onnx'));
    const damaged = store.createRun(project.id, { epochs: 1, hidden: 0, backbone: 'nsfwjs_mobilenet_v2' }, () => damagedDir);
    store.markFinished(damaged.id, {});
    const conflict = await fetch(`${server.url}/v1/runs/${damaged.id}/predict`, json({ images }));
    const body = (await conflict.json()) as { error: { code: string; message: string; hint: string } };
    expect([conflict.status, body.error.code]).toEqual([409, 'CONFLICT']);
    expect(body.error.message).toMatch(new RegExp(`^Run ${damaged.id}'s model no longer loads; it was changed outside the dashboard: .*model\\.onnx`));
    expect(body.error.message).not.toContain(root);
    // The Teachable Machine zip, made from the same folder, says the same.
    const zipConflict = await fetch(`${server.url}/v1/runs/${damaged.id}/teachable-machine.zip`);
    expect([zipConflict.status, ((await zipConflict.json()) as { error: { message: string } }).error.message]).toEqual([409, body.error.message]);

    // A run without a model, an unknown run, and a deleted one: 404.
    const failed = store.createRun(project.id, { epochs: 1, hidden: 0, backbone: 'nsfwjs_mobilenet_v2' }, (id) => join(root, 'ui', 'runs', String(id), 'model'));
    store.markFailed(failed.id, 'boom');
    expect((await fetch(`${server.url}/v1/runs/${failed.id}/predict`, json({ images }))).status).toBe(404);
    expect((await fetch(`${server.url}/v1/runs/424242/predict`, json({ images }))).status).toBe(404);
    expect((await fetch(`${server.url}/v1/runs/${run.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${server.url}/v1/runs/${run.id}/predict`, json({ images }))).status).toBe(404);
  });

  it('a field of the wrong type is a 400 naming it, not coerced; a run asked for with no body is one with the defaults', async () => {
    const named = await fetch(`${server.url}/v1/projects`, json({ name: 5 }));
    expect([named.status, ((await named.json()) as { error: { message: string } }).error.message]).toEqual([400, 'body/name must be string']);
    const crops = await fetch(`${server.url}/v1/projects/424242/runs`, json({ crops: 1 }));
    expect([crops.status, ((await crops.json()) as { error: { message: string } }).error.message]).toEqual([400, 'body/crops must be boolean']);
    // Validated as {} (it was "body must be object"): the unknown project is what is wrong.
    const noBody = await fetch(`${server.url}/v1/projects/424242/runs`, { method: 'POST' });
    expect([noBody.status, ((await noBody.json()) as { error: { code: string } }).error.code]).toEqual([404, 'NOT_FOUND']);
  });

  it('deletes a run that ended with everything it wrote; refuses a queued or running run (409) and an unknown one (404)', async () => {
    const project = (await (await fetch(`${server.url}/v1/projects`, json({ name: 'delete runs', folder: data.root }))).json()) as { id: number };
    const url = `${server.url}/v1/projects/${project.id}/runs`;
    const finished = (await (await fetch(url, json({ backbone: 'nsfwjs_mobilenet_v2' }))).json()) as RunJson;
    expect((await readEvents(`${server.url}/v1/runs/${finished.id}/events`)).at(-1)).toMatchObject({ data: { status: 'finished' } });
    const runFolder = join(finished.modelDir, '..');
    expect(existsSync(join(finished.modelDir, 'model.onnx'))).toBe(true);
    expect((await fetch(`${server.url}/v1/runs/${finished.id}/thumbnails/0`)).status).toBe(200);

    // A running run: refused with a hint to cancel it, and left training.
    const running = (await (await fetch(url, json({ epochs: 500, hidden: 256, backbone: 'nsfwjs_mobilenet_v2' }))).json()) as RunJson;
    const queued = (await (await fetch(url, json({ backbone: 'nsfwjs_mobilenet_v2' }))).json()) as RunJson;
    let refused: Response | undefined;
    await followEvents(`${server.url}/v1/runs/${running.id}/events`, async (e) => {
      if (e.event !== 'epoch-end' || refused) return;
      refused = await fetch(`${server.url}/v1/runs/${running.id}`, { method: 'DELETE' });
      expect(server.dashboard.store.run(running.id)!.status).toBe('running');
      const queuedRefusal = await fetch(`${server.url}/v1/runs/${queued.id}`, { method: 'DELETE' });
      expect(queuedRefusal.status).toBe(409);
      expect(((await queuedRefusal.json()) as { error: { message: string } }).error.message).toContain('is queued');
      await fetch(`${server.url}/v1/runs/${queued.id}/cancel`, { method: 'POST' });
      await fetch(`${server.url}/v1/runs/${running.id}/cancel`, { method: 'POST' });
    });
    expect(refused?.status).toBe(409);
    expect(refused!.headers.get('content-type')).toMatch(/application\/json/);
    expect(((await refused!.json()) as { error: { code: string; message: string; hint: string } }).error).toMatchObject({
      code: 'CONFLICT',
      message: `Run ${running.id} is running; a queued or running run cannot be deleted.`,
      hint: expect.stringContaining('cancel it first'),
    });

    const deleted = await fetch(`${server.url}/v1/runs/${finished.id}`, { method: 'DELETE' });
    expect(deleted.status).toBe(204);
    expect(existsSync(runFolder), 'the run folder is removed').toBe(false);
    expect((await fetch(`${server.url}/v1/runs/${finished.id}`)).status).toBe(404);
    expect((await fetch(`${server.url}/v1/runs/${finished.id}/evaluation`)).status).toBe(404);
    expect((await fetch(`${server.url}/v1/runs/${finished.id}/thumbnails/0`)).status).toBe(404);
    expect(server.dashboard.store.epochs(finished.id)).toEqual([]);
    const listed = (await (await fetch(`${server.url}/v1/projects/${project.id}`)).json()) as { runs: { id: number }[] };
    expect(listed.runs.map((r) => r.id)).toEqual([queued.id, running.id]);
    // Again, or an id that never was: 404 in JSON.
    for (const id of [finished.id, 424242, 'abc']) {
      const missing = await fetch(`${server.url}/v1/runs/${id}`, { method: 'DELETE' });
      expect(missing.status, String(id)).toBe(404);
      expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
    }
    // Cancelled runs can go too; deleting the project still removes the runs it has left.
    expect((await fetch(`${server.url}/v1/runs/${queued.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${server.url}/v1/projects/${project.id}`, { method: 'DELETE' })).status).toBe(204);
    expect(server.dashboard.store.run(running.id)).toBeUndefined();
  });

  it("relabels and removes an upload project's label issues (as fastai's cleaner does); never a folder project's, nor while a run is active", async () => {
    const url = server.url;
    const { store } = server.dashboard;
    const errorOf = async (response: Response) => ((await response.json()) as { error: { code: string; message: string; hint?: string } }).error;
    const upload = async (projectId: number, label: string, files: string[]) => {
      const form = new FormData();
      form.append('label', label);
      for (const file of files) form.append('files', new Blob([await readFile(file)], { type: 'image/jpeg' }), basename(file));
      expect((await fetch(`${url}/v1/projects/${projectId}/images`, { method: 'POST', body: form })).status).toBe(201);
    };
    // The name an upload stores a file under.
    const stored = async (file: string) => {
      const bytes = await readFile(file);
      return storedName(createHash('sha256').update(bytes).digest('hex'), sniffImageFormat(bytes)!);
    };
    const project = (await (await fetch(`${url}/v1/projects`, json({ name: 'to clean' }))).json()) as { id: number; dataDir: string };
    const dir = (label: string) => join(project.dataDir, label);
    const of = (shape: string) => data.files.filter((f) => f.includes(`/${shape}/`) && !f.includes('planted'));
    const [circles, squares, triangles] = [of('circles'), of('squares'), of('triangles')];
    // Circles uploaded among the squares and triangles: cross-validation says so.
    await upload(project.id, 'circles', circles.slice(0, 4));
    await upload(project.id, 'squares', [...squares.slice(0, 4), circles[4]!, circles[5]!]);
    await upload(project.id, 'triangles', [...triangles.slice(0, 4), circles[6]!]);
    const run = (await (await fetch(`${url}/v1/projects/${project.id}/runs`, json({ backbone: 'nsfwjs_mobilenet_v2' }))).json()) as RunJson;
    expect((await readEvents(`${url}/v1/runs/${run.id}/events`)).at(-1)).toMatchObject({ data: { status: 'finished' } });
    const evaluation = (await (await fetch(`${url}/v1/runs/${run.id}/evaluation`)).json()) as { acceptsLabelFixes: boolean; labelIssues: { file: string; path: string; given: string; predicted: string }[] };
    expect(evaluation.acceptsLabelFixes).toBe(true);
    const first = evaluation.labelIssues[0]!;
    expect(first.path).toBe(`${first.given}/${first.file}`);
    const issue = `${url}/v1/runs/${run.id}/label-issues/0`;

    // Bad labels, the label it has, a path out of the project: 400, and nothing moved.
    for (const [body, said] of [[{ label: '../x' }, /A class label is/], [{ label: 'a/../../x' }, /A class label is/], [{ label: 'train' }, /reserved folder name/], [{ label: ` ${first.given} ` }, /in class ".+" already/], [{}, /label/], [{ label: 'circles', extra: 1 }, /extra/]] as const) {
      const refused = await fetch(`${issue}/relabel`, json(body));
      expect(refused.status, JSON.stringify(body)).toBe(400);
      expect((await errorOf(refused)).message).toMatch(said);
    }
    expect(existsSync(join(dir(first.given), first.file))).toBe(true);
    expect([existsSync(join(project.dataDir, '..', 'x')), existsSync(join(project.dataDir, 'x'))]).toEqual([false, false]);
    // Unknown run or issue: 404.
    for (const path of ['/v1/runs/424242/label-issues/0/relabel', `/v1/runs/${run.id}/label-issues/999/relabel`, `/v1/runs/${run.id}/label-issues/x/remove`]) {
      expect((await fetch(`${url}${path}`, json({ label: 'circles' }))).status, path).toBe(404);
    }
    // A run queued: the images stay as they are (409), as for an upload.
    const queued = store.createRun(project.id, { epochs: 1, hidden: 0, backbone: 'nsfwjs_mobilenet_v2' }, (id) => join(root, 'ui', 'runs', String(id), 'model'));
    for (const action of [fetch(`${issue}/relabel`, json({ label: first.predicted })), fetch(`${issue}/remove`, { method: 'POST' })]) {
      const busy = await action;
      expect(busy.status).toBe(409);
      expect((await errorOf(busy)).message).toContain(`queued or running run(s) (#${queued.id})`);
    }
    store.markCancelled(queued.id, 'never started');
    expect(existsSync(join(dir(first.given), first.file))).toBe(true);

    // Moved to the class it looks like, keeping its name; listed there, gone from where it was; again: 404.
    const bytes = await readFile(join(dir(first.given), first.file));
    const moved = await fetch(`${issue}/relabel`, json({ label: first.predicted }));
    expect(moved.status).toBe(200);
    expect(await moved.json()).toEqual({ label: first.predicted, file: first.file, isDuplicate: false });
    expect((await readFile(join(dir(first.predicted), first.file))).equals(bytes)).toBe(true);
    expect(existsSync(join(dir(first.given), first.file))).toBe(false);
    const listed = (await (await fetch(`${url}/v1/projects/${project.id}/classes/${first.predicted}`)).json()) as { images: { name: string }[] };
    expect(listed.images.map((i) => i.name)).toContain(first.file);
    for (const again of [fetch(`${issue}/relabel`, json({ label: first.given })), fetch(`${issue}/remove`, { method: 'POST' })]) {
      const gone = await again;
      expect(gone.status).toBe(404);
      expect((await errorOf(gone)).message).toBe(`Run ${run.id}'s image 0 (${first.file}) was relabelled as ${JSON.stringify(first.predicted)} already.`);
    }
    // The evaluation remembers it (a reload of the page shows it done), and its thumbnail follows the image.
    const after = (await (await fetch(`${url}/v1/runs/${run.id}/evaluation`)).json()) as { labelIssues: { fixed?: unknown }[] };
    expect(after.labelIssues[0]!.fixed).toEqual({ action: 'relabelled', label: first.predicted, file: first.file });
    expect(after.labelIssues.slice(1).every((i) => i.fixed === undefined)).toBe(true);
    const thumbnail = await fetch(`${url}/v1/runs/${run.id}/label-issues/0/thumbnail`);
    expect([thumbnail.status, thumbnail.headers.get('content-type')]).toEqual([200, 'image/jpeg']);

    // Issues of each other kind, stored on a run of the same project (the routes read the store, as for a trained one).
    // A name the class has (a file an earlier Graft stored under the client's name): the name an upload gives it, the
    // other file untouched. An image the class holds already: kept once, as an upload does. A removal. A new class (its
    // folder made; the old class goes with its last image). A link in the project's folder leading out of it: 403.
    await copyFile(triangles[4]!, join(dir('squares'), 'photo.jpg'));
    await copyFile(triangles[5]!, join(dir('triangles'), 'photo.jpg'));
    await upload(project.id, 'squares', [squares[4]!]);
    await upload(project.id, 'triangles', [squares[4]!]);
    await upload(project.id, 'circles', [triangles[6]!]);
    await mkdir(dir('ovals'));
    await copyFile(squares[5]!, join(dir('ovals'), 'lone.jpg'));
    const outside = join(root, 'outside.jpg');
    await copyFile(squares[6]!, outside);
    await symlink(outside, join(dir('squares'), 'link.jpg'));
    const stub = store.createRun(project.id, { epochs: 1, hidden: 0, backbone: 'nsfwjs_mobilenet_v2' }, (id) => join(root, 'ui', 'runs', String(id), 'model'));
    store.markFinished(stub.id, {});
    const labelIssue = (given: string, file: string) => ({ file: join(dir(given), file), given, predicted: 'circles', confidence: 0.9 });
    store.saveEvaluation(stub.id, {
      labelIssues: [labelIssue('squares', 'photo.jpg'), labelIssue('triangles', await stored(squares[4]!)), labelIssue('circles', await stored(triangles[6]!)), labelIssue('ovals', 'lone.jpg'), labelIssue('squares', 'link.jpg')],
    });
    const stubIssue = (i: number, action: string, label?: string) => fetch(`${url}/v1/runs/${stub.id}/label-issues/${i}/${action}`, json(label === undefined ? {} : { label }));
    // Sent twice at once (a double click): moved once, the other told it is gone.
    const twice = await Promise.all([stubIssue(0, 'relabel', 'triangles'), stubIssue(0, 'relabel', 'triangles')]);
    expect(twice.map((r) => r.status).sort()).toEqual([200, 404]);
    expect(await twice.find((r) => r.status === 200)!.json()).toEqual({ label: 'triangles', file: await stored(triangles[4]!), isDuplicate: false });
    expect((await readFile(join(dir('triangles'), await stored(triangles[4]!)))).equals(await readFile(triangles[4]!))).toBe(true);
    expect((await readFile(join(dir('triangles'), 'photo.jpg'))).equals(await readFile(triangles[5]!))).toBe(true);
    expect(existsSync(join(dir('squares'), 'photo.jpg'))).toBe(false);
    expect(await (await stubIssue(1, 'relabel', 'squares')).json()).toEqual({ label: 'squares', file: await stored(squares[4]!), isDuplicate: true });
    expect([existsSync(join(dir('triangles'), await stored(squares[4]!))), existsSync(join(dir('squares'), await stored(squares[4]!)))]).toEqual([false, true]);
    expect((await fetch(`${url}/v1/runs/${stub.id}/label-issues/2/remove`, { method: 'POST' })).status).toBe(204);
    expect((await errorOf(await fetch(`${url}/v1/runs/${stub.id}/label-issues/2/remove`, { method: 'POST' }))).message).toMatch(/\(.+\) was removed already\.$/);
    expect(existsSync(join(dir('circles'), await stored(triangles[6]!)))).toBe(false);
    expect(await (await stubIssue(3, 'relabel', 'discs')).json()).toEqual({ label: 'discs', file: 'lone.jpg', isDuplicate: false });
    expect([existsSync(join(dir('discs'), 'lone.jpg')), existsSync(dir('ovals'))]).toEqual([true, false]);
    for (const action of ['relabel', 'remove']) {
      const linked = await stubIssue(4, action, 'circles');
      expect(linked.status, action).toBe(403);
      expect((await errorOf(linked)).message).not.toContain(root);
    }
    expect([existsSync(join(dir('squares'), 'link.jpg')), existsSync(outside), existsSync(join(dir('circles'), 'link.jpg'))]).toEqual([true, true, false]);

    // A folder project: the user's own images, never changed (409 saying where to fix it, without the server's paths).
    const own = join(root, 'own');
    await cp(data.trainDir, own, { recursive: true });
    const folderProject = (await (await fetch(`${url}/v1/projects`, json({ name: 'own folder', folder: own }))).json()) as { id: number };
    const ownRun = store.createRun(folderProject.id, { epochs: 1, hidden: 0, backbone: 'nsfwjs_mobilenet_v2' }, (id) => join(root, 'ui', 'runs', String(id), 'model'));
    store.markFinished(ownRun.id, {});
    const ownFile = join(own, 'squares', (await readdir(join(own, 'squares')))[0]!);
    store.saveEvaluation(ownRun.id, { dataset: own, count: 0, accuracy: 0, labels: [], confusion: [], perClass: {}, misclassified: [], labelIssues: [{ file: ownFile, given: 'squares', predicted: 'circles', confidence: 0.9 }] });
    const before = await readdir(own, { recursive: true });
    for (const action of ['relabel', 'remove']) {
      const refused = await fetch(`${url}/v1/runs/${ownRun.id}/label-issues/0/${action}`, json({ label: 'circles' }));
      expect(refused.status, action).toBe(409);
      const error = await errorOf(refused);
      expect(error.message).toBe(`Project ${folderProject.id} reads a folder on the server, which the dashboard never changes; fix it in your folder: squares/${basename(ownFile)}`);
      expect(error.message).not.toContain(root);
    }
    expect(await readdir(own, { recursive: true })).toEqual(before);
    expect(((await (await fetch(`${url}/v1/runs/${ownRun.id}/evaluation`)).json()) as { acceptsLabelFixes: boolean }).acceptsLabelFixes).toBe(false);
  });
});

skipReason('dashboard fine-tuning test');
describe.skipIf(!hasShared)('training dashboard API: a fine-tuning run on real photos', () => {
  let root: string;
  let server: Awaited<ReturnType<typeof startDashboardServer>>;
  beforeAll(async () => {
    root = await tempDir('graft-dashboard-ft-');
    await copySubset(join(hymenoptera, 'train'), join(root, 'photos'), 6);
    // Classes of different sizes (3 ants, 6 bees): the scores weigh every class alike, and the run says so.
    await copySubset(join(hymenoptera, 'train'), join(root, 'uneven'), 6);
    for (const file of (await readdir(join(root, 'uneven', 'ants'))).sort().slice(3)) await rm(join(root, 'uneven', 'ants', file));
    // mobilenet_v2 is the int8 MobileNetV2 in the shared models folder (found offline through modelDirs, which the
    // CLI fills from GRAFT_MODELS_DIR).
    server = await startDashboardServer({ dataDir: join(root, 'ui'), cacheDir: join(root, 'cache'), modelDirs: [join(int8Model, '..')], port: 0, dataRoots: [root] });
    token = server.token;
  });
  afterAll(async () => {
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('trains the head, then fine-tunes; epochs of both phases are stored and streamed in one sequence; the run records what the model holds and why', async () => {
    const project = (await (await fetch(`${server.url}/v1/projects`, json({ name: 'bees', folder: join(root, 'uneven') }))).json()) as { id: number };
    const created = await fetch(`${server.url}/v1/projects/${project.id}/runs`, json({ epochs: 3, hidden: 0, backbone: 'mobilenet_v2', fineTune: { unfreeze: 'last:1', epochs: 2, views: 0 } }));
    expect(created.status).toBe(201);
    const run = (await created.json()) as RunJson;
    const events = await readEvents(`${server.url}/v1/runs/${run.id}/events`);
    expect(events.at(-1), JSON.stringify(events.at(-1))).toMatchObject({ event: 'status', data: { status: 'finished' } });
    expect(events.some((e) => e.event === 'phase' && e.data.phase === 'fine-tune')).toBe(true);

    const detail = (await (await fetch(`${server.url}/v1/runs/${run.id}`)).json()) as RunJson;
    // The linear head has no epochs; fine-tuning's (chosen on held-out training images) follow from epoch 1.
    const head = detail.epochs.filter((e) => e.phase === 'head');
    const fine = detail.epochs.filter((e) => e.phase === 'fine-tune');
    expect(head).toHaveLength(0);
    expect(fine.map((e) => e.phaseEpoch)).toEqual([1, 2]);
    expect(detail.epochs.map((e) => e.epoch)).toEqual(detail.epochs.map((_, i) => i + 1));
    expect(detail.metrics!.fineTune!.firstEpoch).toBe(1);
    // Whether fine-tuning was kept, and the held-out comparison that decided it, as `graft train --json` has them.
    const outcome = detail.metrics!.fineTune!;
    expect(['fine-tuned', 'head']).toContain(outcome.kept);
    expect(outcome.holdout).toMatchObject({ images: expect.any(Number), headLoss: expect.any(Number), headAccuracy: expect.any(Number), bestAccuracy: expect.any(Number) });
    expect(outcome.holdout!.images).toBeGreaterThan(0);
    const manifestOutcome = JSON.parse(await readFile(join(detail.modelDir, 'graft.json'), 'utf8')) as { training: { outcome: { fineTune: { kept: string } } } };
    expect(manifestOutcome.training.outcome.fineTune.kept).toBe(outcome.kept);
    expect(detail.metrics!.selection!.classWeighted).toBe(true);
    const streamed = events.filter((e) => e.event === 'epoch-end').map((e) => [e.data.epoch, e.data.phase, e.data.phaseEpoch]);
    expect(streamed).toEqual(detail.epochs.map((e) => [e.epoch, e.phase, e.phaseEpoch]));
    const manifest = JSON.parse(await readFile(join(detail.modelDir, 'graft.json'), 'utf8')) as { training: { outcome: { fineTune: { firstEpoch: number } } }; metrics: { history: unknown[] } };
    expect(manifest.training.outcome.fineTune.firstEpoch).toBe(1);
    expect(manifest.metrics.history).toHaveLength(detail.epochs.length);
    expect(existsSync(`${detail.modelDir}.checkpoint`)).toBe(false);
  });

  it('cancels a run while it fine-tunes: no model and no checkpoint stay', async () => {
    const project = (await (await fetch(`${server.url}/v1/projects`, json({ name: 'bees again', folder: join(root, 'photos') }))).json()) as { id: number };
    const run = (await (await fetch(`${server.url}/v1/projects/${project.id}/runs`, json({ epochs: 3, hidden: 0, backbone: 'mobilenet_v2', fineTune: { unfreeze: 'last:1', epochs: 50, views: 0 } }))).json()) as RunJson;
    let cancel: Response | undefined;
    const events = await followEvents(`${server.url}/v1/runs/${run.id}/events`, async (e) => {
      if (e.event === 'epoch-end' && e.data.phase === 'fine-tune' && !cancel) cancel = await fetch(`${server.url}/v1/runs/${run.id}/cancel`, { method: 'POST' });
    });
    expect(cancel?.status).toBe(200);
    expect(events.at(-1)).toMatchObject({ event: 'status', data: { status: 'cancelled' } });
    const detail = (await (await fetch(`${server.url}/v1/runs/${run.id}`)).json()) as RunJson;
    expect(detail.status).toBe('cancelled');
    const fine = detail.epochs.filter((e) => e.phase === 'fine-tune');
    expect(fine.length).toBeGreaterThanOrEqual(1);
    expect(fine.length).toBeLessThan(50);
    expect(existsSync(detail.modelDir)).toBe(false);
    expect(existsSync(`${detail.modelDir}.checkpoint`)).toBe(false);
  });
});
