// @ts-check
/**
 * The training dashboard page: talks only to the JSON API under /v1 (see src/serve/dashboard/dashboard-routes.ts).
 * Plain JS with JSDoc types, checked by `tsc -p src/web/dashboard/tsconfig.json`; served as is, no build step.
 */

import { webcamPanel } from './webcam-samples.js';
import { tryModelPanel } from './try-model.js';
import { pacedAnnouncer } from './paced-announcer.js';
import { tieFailure, untieFailure } from './failure-ties.js';
import { fillChartTable } from './chart-table.js';

/** @typedef {{ loss: number, acc: number, val_loss?: number, val_acc?: number }} EpochLogs */
/** `epoch` counts on across both phases; `phaseEpoch` restarts at 1 when fine-tuning starts. @typedef {EpochLogs & { epoch: number, phase?: 'head' | 'fine-tune', phaseEpoch?: number }} EpochRow */
/** @typedef {{ unfreeze: string, epochs: number, views: number, classWeights: string }} FineTuneOptions */
/** @typedef {{ epochs: number, hidden: number, backbone: string, fineTune?: FineTuneOptions, crops?: boolean }} RunOptions */
/** @typedef {{ trainViews: string, tta: boolean, c: number, accuracy: number, logLoss: number }} CvScore */
/** @typedef {{ folds: number, criterion: string, chosen: CvScore, table: CvScore[], classWeighted?: boolean }} HeadSelection */
/** @typedef {{ images: number, headLoss: number | null, bestLoss: number | null, startingHeadLoss?: number | null, headAccuracy?: number, bestAccuracy?: number, classWeighted?: boolean, again?: HeldOut }} HeldOut */
/** @typedef {{ firstEpoch: number, bestEpoch: number, kept?: 'fine-tuned' | 'head', holdout?: HeldOut }} FineTuneOutcome */
/** @typedef {{ id: number, projectId: number, status: string, options: RunOptions, maxEpochs: number, metrics: { val?: { accuracy: number } | null, selection?: HeadSelection | null, fineTune?: FineTuneOutcome, warnings?: string[], backbone?: string } | null, error: string | null, epochs: EpochRow[] }} Run */
/** `path` is where it lies within the project's folder; `fixed`, what was done about it here. @typedef {{ file: string, path: string, given: string, predicted: string, confidence: number, thumbnail: string, fixed?: LabelFix }} LabelIssue */
/** @typedef {{ action: 'relabelled', label: string, file: string } | { action: 'removed' }} LabelFix */
/** @typedef {{ id: number, name: string, dataDir: string, acceptsUploads: boolean, classes: { label: string, count: number }[], skipped: number, runs: Run[] }} Project */
/** @typedef {{ file: string, true: string, predicted: string, confidence: number, thumbnail: string }} Mistake */
/** @typedef {{ labels: string[], accuracy: number, accuracyInterval?: { level: number, low: number, high: number }, count: number, onTrainingImages?: boolean, confusion: number[][], perClass: Record<string, { precision: number, recall: number, f1: number, support: number }>, misclassified: Mistake[], labelIssues?: LabelIssue[], labelIssuesNote?: string, acceptsLabelFixes?: boolean, balancedAccuracy?: number, mostConfused?: { true: string, predicted: string, count: number }[], calibration?: { confidence: number, ece: number, eceByChance?: number }, logLoss?: number }} Evaluation */

/** @param {string} id @returns {HTMLElement} */
function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} is missing from the page`);
  return node;
}

/** @param {string} id @returns {SVGSVGElement} */
function svgById(id) {
  return /** @type {SVGSVGElement} */ (/** @type {unknown} */ (byId(id)));
}

/**
 * @param {string} tag
 * @param {Record<string, string>} [attrs]
 * @param {(Node | string)[]} children
 */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...children);
  return node;
}

/** A refusal of the API: its message (and hint), and its stable code, which says which field is at fault better than words. */
class ApiError extends Error {
  /** @param {string} message @param {string | undefined} code */
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

/** The server's root: this page lies at <root>/dashboard/, and a reverse proxy may publish <root> under a path. */
const serverRoot = new URL('../', location.href);

/**
 * A server path as the API writes it ("/v1/runs/3/thumbnails/0"), as a URL under the root this page was loaded
 * from: behind a proxy at https://host/graft/ that is https://host/graft/v1/..., which "/v1/..." alone would leave.
 * @param {string} path
 */
const onServer = (path) => new URL(path.replace(/^\/+/, ''), serverRoot).href;

/**
 * Every request to the API (`path` as the API writes it, see onServer). The page is authenticated by its cookie
 * (set when the token link was opened); a request that changes something also carries X-Graft-Request, which the
 * server requires with the cookie because a cross-site form cannot send it.
 * @param {string} path @param {RequestInit} [init]
 */
async function api(path, init = {}) {
  const method = (init.method ?? 'GET').toUpperCase();
  const headers = new Headers(init.headers);
  if (method !== 'GET' && method !== 'HEAD') headers.set('x-graft-request', '1');
  const response = await fetch(onServer(path), { ...init, headers, credentials: 'same-origin' });
  if (response.status === 204) return undefined;
  const body = response.headers.get('content-type')?.includes('json') ? await response.json() : undefined;
  if (!response.ok) throw new ApiError(body?.error ? `${body.error.message}${body.error.hint ? ` (${body.error.hint})` : ''}` : `HTTP ${response.status}`, body?.error?.code);
  return body;
}

/** @param {unknown} value @param {number} [digits] */
const pct = (value, digits = 1) => (typeof value === 'number' ? `${(value * 100).toFixed(digits)}%` : '—');

/** Statuses a run never leaves. */
const TERMINAL = ['finished', 'failed', 'cancelled', 'interrupted'];
/** @param {string} status */
const isActive = (status) => status === 'queued' || status === 'running';

/** A run's status line: a failure's reason after a colon, any other note in parentheses. @param {string} status @param {string | null | undefined} note */
const statusText = (status, note) => `Status: ${status}${note ? (status === 'failed' ? `: ${note}` : ` (${note})`) : ''}`;

/** @param {RunOptions} o @param {string} backbone the backbone the run used (another, where the asked one could not be had) @returns {string[]} */
function describeOptions(o, backbone) {
  const head = [o.hidden > 0 ? `head: ${o.hidden} hidden units, at most ${o.epochs} epochs` : 'linear head (solved, no epochs)', `backbone ${backbone}`, ...(o.crops ? ['corner crops tried'] : [])];
  const ft = o.fineTune;
  if (!ft) return [...head, 'no fine-tuning'];
  return [...head, `fine-tune: unfreeze ${ft.unfreeze}`, `at most ${ft.epochs} fine-tuning epochs`, `${ft.views} augmented views`, `class weights ${ft.classWeights}`];
}

const projectSelect = /** @type {HTMLSelectElement} */ (byId('project-select'));
const projectMessage = byId('project-message');
/** @type {number | undefined} */ let currentRunId;
/** The project of the run shown, which "Train again" trains. @type {number | undefined} */ let currentRunProjectId;
/** The options of the run shown, which "Train again" trains with. @type {RunOptions | undefined} */ let currentRunOptions;
/** @type {EventSource | undefined} */ let stream;

/** @param {HTMLElement} target @param {string} text @param {boolean} [isError] */
function say(target, text, isError = false) {
  target.textContent = text;
  target.classList.toggle('error', isError);
}

async function loadProjects(selectId = Number(projectSelect.value) || undefined) {
  /** @type {{ projects: { id: number, name: string, runs: number }[] }} */
  const { projects } = await api('/v1/projects');
  projectSelect.replaceChildren(...projects.map((p) => el('option', { value: String(p.id) }, `${p.name} (#${p.id})`)));
  if (!projects.length) projectSelect.append(el('option', { value: '' }, 'No projects yet'));
  // A project deleted meanwhile (another tab) is not kept selected: the first one shows instead.
  if (selectId !== undefined && projects.some((p) => p.id === selectId)) projectSelect.value = String(selectId);
  await showProject();
}

async function showProject() {
  const id = Number(projectSelect.value);
  const upload = /** @type {HTMLFormElement} */ (byId('upload-form'));
  if (!id) {
    upload.hidden = true;
    webcam.close();
    return;
  }
  /** @type {Project} */
  const project = await api(`/v1/projects/${id}`);
  if (Number(projectSelect.value) !== id) return;
  const total = project.classes.reduce((n, c) => n + c.count, 0);
  say(byId('project-summary'), `${total} images in ${project.classes.length} classes, from ${project.dataDir}${project.skipped ? `; ${project.skipped} files cannot be used` : ''}`);
  byId('class-list').replaceChildren(...project.classes.map((c) => el('li', {}, `${c.label}: ${c.count}`, ...(project.acceptsUploads ? [webcamClassButton(c.label)] : []))));
  upload.hidden = !project.acceptsUploads;
  if (upload.hidden) webcam.close();
  const rows = project.runs.map((run) => {
    const open = el('button', { type: 'button', class: 'link', 'aria-label': `Open run #${run.id}` }, 'Open');
    // A run another tab deleted: said where the user looks, and the list read again (it was an uncaught error).
    open.addEventListener('click', () => void openRun(run.id, { isFocused: true }).catch((/** @type {unknown} */ error) => {
      const message = error instanceof Error ? error.message : String(error);
      say(projectMessage, message, true);
      // The list read again, projects too: the project itself may be gone (its rejection was uncaught).
      void loadProjects().catch(() => say(projectMessage, message, true));
    }));
    const actions = el('td', { class: 'actions' }, open);
    if (isActive(run.status)) {
      const cancel = /** @type {HTMLButtonElement} */ (el('button', { type: 'button', class: 'link danger-link', 'aria-label': `Cancel run #${run.id}` }, 'Cancel'));
      cancel.addEventListener('click', () => void cancelRun(run.id, cancel));
      actions.append(cancel);
    }
    return el('tr', { 'data-run': String(run.id) },
      el('td', {}, `#${run.id}`, ...(run.options.fineTune ? [' ', el('span', { class: 'tag', title: `fine-tunes ${run.options.fineTune.unfreeze}` }, 'fine-tune')] : [])),
      el('td', {}, el('span', { class: `status status-${run.status}` }, run.status)),
      el('td', {}, run.maxEpochs === 0 ? '–' : `${run.epochs.length} / ${run.maxEpochs}`),
      el('td', {}, pct(run.metrics?.val?.accuracy)),
      actions);
  });
  byId('runs-table').querySelector('tbody')?.replaceChildren(...rows);
}

/**
 * Draws train (solid) and held-out (dashed) series of one metric over every epoch of both phases. When the run
 * fine-tunes, a vertical marker says "fine-tuning starts", the fine-tuning epochs lie on a shaded band and their
 * lines are drawn thicker (classes `ft`). `fineTuneStarted` draws the marker before the first fine-tuning epoch ends.
 * @param {SVGSVGElement} svg @param {EpochRow[]} epochs @param {'loss' | 'acc'} key @param {boolean} [fineTuneStarted]
 */
function drawChart(svg, epochs, key, fineTuneStarted = false) {
  const W = 320, H = 180, L = 34, R = 8, T = 8, B = 22;
  const valKey = key === 'loss' ? 'val_loss' : 'val_acc';
  const train = epochs.map((e) => e[key]);
  const val = epochs.map((e) => e[valKey]);
  const all = [...train, .../** @type {number[]} */ (val.filter((v) => typeof v === 'number'))];
  const max = key === 'acc' ? 1 : Math.max(1e-6, ...all);
  let ftStart = epochs.findIndex((e) => e.phase === 'fine-tune');
  if (ftStart < 0 && fineTuneStarted) ftStart = epochs.length;
  const n = Math.max(epochs.length + (ftStart === epochs.length ? 1 : 0), 2);
  /** @param {number} i */ const x = (i) => L + ((W - L - R) * i) / (n - 1);
  /** @param {number} v */ const y = (v) => T + (H - T - B) * (1 - v / max);
  /** Path of values[from..to) at their epoch positions. @param {(number | undefined)[]} values @param {number} from @param {number} to */
  const path = (values, from, to) => {
    let d = '';
    for (let i = Math.max(from, 0); i < Math.min(to, values.length); i++) {
      const v = values[i];
      if (typeof v === 'number') d += `${d ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
    }
    return d;
  };
  const ns = 'http://www.w3.org/2000/svg';
  /** @param {string} tag @param {Record<string, string>} attrs @param {string} [text] */
  const node = (tag, attrs, text) => {
    const n2 = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) n2.setAttribute(k, v);
    if (text) n2.textContent = text;
    return n2;
  };
  const headEnd = ftStart < 0 ? epochs.length : ftStart;
  /** @type {Element[]} */
  const fineTune = [];
  if (ftStart >= 0) {
    // The marker sits between the last head epoch and the first fine-tuning epoch.
    const mx = ftStart === 0 ? L : (x(ftStart - 1) + x(Math.min(ftStart, n - 1))) / 2;
    const right = mx > W / 2;
    fineTune.push(
      node('rect', { class: 'ft-band', x: mx.toFixed(1), y: String(T), width: Math.max(0, W - R - mx).toFixed(1), height: String(H - T - B) }),
      node('line', { class: 'ft-marker', x1: mx.toFixed(1), y1: String(T), x2: mx.toFixed(1), y2: String(H - B) }),
      node('text', { class: 'ft-label', x: (right ? mx - 3 : mx + 3).toFixed(1), y: String(T + 20), 'text-anchor': right ? 'end' : 'start' }, 'fine-tuning starts'),
      // From the last head point on, so the curve stays one line.
      node('path', { class: 'train ft', d: path(train, ftStart - 1, epochs.length), 'data-points': String(Math.max(0, epochs.length - ftStart)) }),
      node('path', { class: 'val ft', d: path(val, ftStart - 1, epochs.length) }),
    );
  }
  svg.replaceChildren(
    ...fineTune.slice(0, 1),
    node('line', { class: 'axis', x1: String(L), y1: String(H - B), x2: String(W - R), y2: String(H - B) }),
    node('line', { class: 'axis', x1: String(L), y1: String(T), x2: String(L), y2: String(H - B) }),
    node('text', { x: '2', y: String(T + 8) }, key === 'acc' ? '100%' : max.toFixed(2)),
    node('text', { x: '2', y: String(H - B) }, '0'),
    node('text', { x: String(W - R - 60), y: String(H - 6) }, `epoch ${epochs.length}`),
    node('path', { class: 'train', d: path(train, 0, headEnd), 'data-points': String(headEnd) }),
    node('path', { class: 'val', d: path(val, 0, headEnd) }),
    ...fineTune.slice(1),
  );
  svg.dataset.epochs = String(epochs.length);
  svg.dataset.fineTuneFrom = ftStart >= 0 ? String(ftStart + 1) : '';
  const last = epochs.at(-1);
  const phases = ftStart >= 0 ? ` (fine-tuning from epoch ${ftStart + 1})` : '';
  svg.setAttribute('aria-label', `${key === 'acc' ? 'Accuracy' : 'Loss'} per epoch, ${epochs.length} epochs${phases}${last ? `, last ${key === 'acc' ? pct(last.acc) : last.loss.toFixed(3)}` : ''}`);
}

const tryModel = tryModelPanel(api);
const cancelButton = /** @type {HTMLButtonElement} */ (byId('cancel-run'));
const deleteButton = /** @type {HTMLButtonElement} */ (byId('delete-run'));
/**
 * Shows what the run view offers for a status: Cancel while the run is queued or running, Delete once it ended,
 * and the model's files once it finished. @param {number} runId @param {string} status
 */
function showRunActions(runId, status) {
  cancelButton.hidden = !isActive(status);
  cancelButton.disabled = false;
  cancelButton.setAttribute('aria-label', `Cancel run #${runId}`);
  deleteButton.hidden = !TERMINAL.includes(status);
  deleteButton.disabled = false;
  deleteButton.setAttribute('aria-label', `Delete run #${runId}`);
  byId('run-downloads').hidden = status !== 'finished';
  tryModel.show(runId, status === 'finished');
  byId('download-onnx').setAttribute('href', onServer(`/v1/runs/${runId}/model.onnx`));
  byId('download-manifest').setAttribute('href', onServer(`/v1/runs/${runId}/graft.json`));
  byId('download-teachable-machine').setAttribute('href', onServer(`/v1/runs/${runId}/teachable-machine.zip`));
}

const runStatus = byId('run-status');
const runAnnouncer = pacedAnnouncer(byId('run-announcer'));
/**
 * The run view's status line: shown as each event comes, announced at a pace a screen reader can follow (the visible
 * line is not live). `step` names what the text reports ("features", "epoch", a status): a new one is said at once,
 * as is an error. @param {string} text @param {{ step: string, isError?: boolean, isUrgent?: boolean }} how
 */
function showRunStatus(text, { step, isError = false, isUrgent = isError }) {
  say(runStatus, text, isError);
  runAnnouncer.announce(text, { step, isUrgent });
}

/** Applies a run's new status to the run view (if it shows that run) and the runs table. @type {((runId: number, status: string, note: string | null | undefined) => void) | undefined} */
let onRunStatus;

/**
 * The run view's title and option chips. The backbone is the one the run used once it says (a fallback from an
 * uncached default is another one), else the one asked for: so they are set again when a live run finishes.
 * @param {Run} run
 */
function showRunTitle(run) {
  const ft = run.options.fineTune;
  // A linear head is solved, not trained by epochs: its title says so instead of an epoch count it never used.
  const head = run.options.hidden > 0 ? `${run.options.epochs} epochs max` : 'linear head';
  const backbone = run.metrics?.backbone ?? run.options.backbone;
  byId('run-title').textContent = `Run #${run.id} (${backbone}, ${head}${ft ? `, then fine-tuning ${ft.unfreeze} for ${ft.epochs}` : ''})`;
  byId('run-options').replaceChildren(...describeOptions(run.options, backbone).map((text) => el('li', {}, text)));
}

/**
 * Shows a run in the run view and follows it live. `isFocused` (the user opened it) moves focus to the view's heading,
 * so the keyboard and a screen reader go on from there, not from the button left behind.
 * @param {number} runId @param {{ isFocused?: boolean }} [how]
 */
async function openRun(runId, { isFocused = false } = {}) {
  stream?.close();
  currentRunId = runId;
  /** @type {Run} */
  const run = await api(`/v1/runs/${runId}`);
  currentRunProjectId = run.projectId;
  currentRunOptions = run.options;
  rememberPlace();
  byId('run-section').hidden = false;
  const ft = run.options.fineTune;
  showRunTitle(run);
  if (isFocused) byId('run-title').focus();
  byId('fine-tune-legend').hidden = !ft;
  byId('evaluation').hidden = true;
  byId('evaluation-missing').hidden = true;
  // The linear head has no epochs: its choice is shown as a cross-validation table instead of curves.
  const hasEpochs = run.options.hidden > 0 || Boolean(ft);
  byId('run-charts').hidden = !hasEpochs;
  byId('run-legend').hidden = !hasEpochs;
  showRunResult(run);
  /** @type {EpochRow[]} */
  const epochs = [];
  let fineTuneStarted = false;
  const redraw = () => {
    drawChart(svgById('loss-chart'), epochs, 'loss', fineTuneStarted);
    drawChart(svgById('acc-chart'), epochs, 'acc', fineTuneStarted);
    fillChartTable(/** @type {HTMLTableElement} */ (byId('loss-table')), epochs, 'loss');
    fillChartTable(/** @type {HTMLTableElement} */ (byId('acc-table')), epochs, 'acc');
  };
  redraw();
  runAnnouncer.clear();
  showRunStatus(statusText(run.status, run.error), { step: run.status, isError: run.status === 'failed' });
  byId('run-section').dataset.status = run.status;
  showRunActions(run.id, run.status);
  const source = new EventSource(onServer(`/v1/runs/${runId}/events`));
  stream = source;
  let ended = false;
  /** @param {string} newStatus @param {string | null | undefined} note */
  const applyStatus = (newStatus, note) => {
    if (ended || currentRunId !== runId) return;
    showRunStatus(statusText(newStatus, note), { step: newStatus, isError: newStatus === 'failed', isUrgent: TERMINAL.includes(newStatus) });
    byId('run-section').dataset.status = newStatus;
    showRunActions(runId, newStatus);
    if (!TERMINAL.includes(newStatus)) return;
    ended = true;
    source.close();
    void showProject();
    if (newStatus === 'finished') {
      void showEvaluation(runId);
      void api(`/v1/runs/${runId}`).then((finished) => {
        if (currentRunId !== runId) return;
        showRunTitle(finished);
        showRunResult(finished);
      });
    }
  };
  onRunStatus = (id, newStatus, note) => {
    if (id === runId) applyStatus(newStatus, note);
  };
  source.addEventListener('epoch-end', (message) => {
    const event = JSON.parse(/** @type {MessageEvent} */ (message).data);
    epochs.push({ epoch: event.epoch, phase: event.phase, phaseEpoch: event.phaseEpoch, ...event.logs });
    if (event.phase === 'fine-tune') fineTuneStarted = true;
    redraw();
    byId('run-section').dataset.epochs = String(epochs.length);
    const where = event.phase === 'fine-tune' ? `epoch ${event.epoch} (fine-tuning ${event.phaseEpoch}/${ft?.epochs ?? '?'})` : `epoch ${event.epoch}`;
    showRunStatus(`Status: running, ${where}: loss ${event.logs.loss.toFixed(3)}, held-out accuracy ${pct(event.logs.val_acc)}`, { step: `${event.phase ?? 'head'} epochs` });
  });
  source.addEventListener('phase', (message) => {
    const event = JSON.parse(/** @type {MessageEvent} */ (message).data);
    if (event.phase !== 'fine-tune') return;
    fineTuneStarted = true;
    redraw();
    showRunStatus(`Status: running, fine-tuning the backbone (${ft?.unfreeze ?? ''}, ${event.epochs} epochs at most)`, { step: 'fine-tuning starts', isUrgent: true });
  });
  source.addEventListener('progress', (message) => {
    /** @type {string} */
    const text = JSON.parse(/** @type {MessageEvent} */ (message).data).message;
    // Its stage is the words before a count or a colon: "features 12/40", "choosing the head: C 0.1 (3/9)…".
    showRunStatus(`Status: running, ${text}`, { step: /^[^\d:]*/.exec(text)?.[0].trim() ?? text, isUrgent: text.startsWith('warning:') });
  });
  source.addEventListener('status', (message) => {
    const event = JSON.parse(/** @type {MessageEvent} */ (message).data);
    applyStatus(event.status, event.error);
  });
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) return;
    source.close();
    // The stream ends when the run does (a status event first); an error before that is the server gone.
    if (currentRunId === runId && !ended) showRunStatus('Lost contact with the server: this page no longer follows the run. Reload it to see how the run stands.', { step: 'lost contact', isError: true });
  };
}

/**
 * Asks the server to cancel a queued or running run; the events stream then reports `cancelled` (a running run
 * stops at its next batch). @param {number} runId @param {HTMLButtonElement} button
 */
async function cancelRun(runId, button) {
  button.disabled = true;
  try {
    const response = await fetch(onServer(`/v1/runs/${runId}/cancel`), { method: 'POST', headers: { 'x-graft-request': '1' }, credentials: 'same-origin' });
    const body = await response.json();
    if (!response.ok) throw new Error(body?.error?.message ?? `HTTP ${response.status}`);
    if (response.status === 202) {
      if (currentRunId === runId) showRunStatus('Status: stopping at the next batch…', { step: 'stopping', isUrgent: true });
    } else {
      onRunStatus?.(runId, body.status, body.error);
    }
    await showProject();
  } catch (error) {
    button.disabled = false;
    const text = `Cannot cancel run #${runId}: ${error instanceof Error ? error.message : String(error)}`;
    if (currentRunId === runId) showRunStatus(text, { step: 'cannot cancel', isError: true });
    else say(projectMessage, text, true);
  }
}

cancelButton.addEventListener('click', () => {
  if (currentRunId !== undefined) void cancelRun(currentRunId, cancelButton);
});

/**
 * Deletes a run that ended, with its model, once the user confirms; the run view closes and the runs table
 * loses the row. @param {number} runId
 */
async function deleteRun(runId) {
  if (!window.confirm(`Delete run #${runId}, its curves, evaluation and model? This cannot be undone.`)) return;
  deleteButton.disabled = true;
  try {
    await api(`/v1/runs/${runId}`, { method: 'DELETE' });
    if (currentRunId === runId) {
      stream?.close();
      currentRunId = undefined;
      rememberPlace();
      byId('run-section').hidden = true;
      // Its Delete button is gone with the run view: focus goes to the runs, not back to the top of the page.
      byId('runs-title').focus();
    }
    say(byId('run-form-message'), `Deleted run #${runId}.`);
    await showProject();
  } catch (error) {
    deleteButton.disabled = false;
    showRunStatus(`Cannot delete run #${runId}: ${error instanceof Error ? error.message : String(error)}`, { step: 'cannot delete', isError: true });
  }
}

deleteButton.addEventListener('click', () => {
  if (currentRunId !== undefined) void deleteRun(currentRunId);
});

/**
 * What a finished run recorded beyond its curves: warnings (e.g. the default backbone could not be had) and the
 * cross-validation table that chose the head. @param {Run} run
 */
function showRunResult(run) {
  const warnings = run.metrics?.warnings ?? [];
  const warning = byId('run-warning');
  warning.hidden = !warnings.length;
  warning.textContent = warnings.join(' ');
  showFineTuneOutcome(run.metrics?.fineTune);
  const selection = run.metrics?.selection;
  byId('selection').hidden = !selection;
  if (!selection) return;
  const c = selection.chosen;
  const kind = (/** @type {CvScore} */ s) => `${s.trainViews.startsWith('plain+flip') ? 'images + mirror images' : 'images'}${s.trainViews.endsWith('+crops') ? ' + corner crops' : ''}${s.tta ? ', test-time mirror' : ''}`;
  say(byId('selection-summary'), `${selection.folds}-fold cross-validation on the training images only (lowest ${selection.criterion} wins): ${kind(c)}, C = ${c.c.toPrecision(2)}, CV accuracy ${pct(c.accuracy)}.${selection.classWeighted ? ' Scores weigh every class alike (balanced class weights): accuracy is the mean recall over classes.' : ''} Chosen on the training images alone.`);
  const rows = [...selection.table].sort((a, b) => a.logLoss - b.logLoss).slice(0, 12);
  byId('selection-table').replaceChildren(
    el('caption', { class: 'visually-hidden' }, 'Candidates scored by cross-validation, best first'),
    el('thead', {}, el('tr', {}, ...['Candidate', 'C', 'CV accuracy', 'CV log-loss'].map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, ...rows.map((r) => el('tr', r === c || (r.c === c.c && r.trainViews === c.trainViews && r.tta === c.tta) ? { class: 'chosen' } : {},
      el('th', { scope: 'row' }, kind(r)), el('td', {}, r.c.toPrecision(2)), el('td', {}, pct(r.accuracy)), el('td', {}, r.logLoss.toFixed(3))))),
  );
}

/**
 * Says what a fine-tuning run's model holds (the fine-tuned network or the head alone) and the comparison on
 * held-out training images that decided it. @param {FineTuneOutcome | undefined} ft
 */
function showFineTuneOutcome(ft) {
  const outcome = byId('fine-tune-outcome');
  outcome.hidden = !ft?.kept;
  if (!ft?.kept) return;
  /** As core/fine-tune-holdout.ts's describeHoldout, which this page cannot import. @param {HeldOut | undefined} h @param {string} images */
  const comparison = (h, images) => {
    const weighted = h?.classWeighted ? 'class-weighted ' : '';
    if (h && h.bestLoss === null && typeof h.startingHeadLoss === 'number') {
      const head = h.headLoss === null ? '' : ` (the head alone's: ${h.headLoss.toFixed(4)})`;
      return `on ${h.images} ${images}: no fine-tuning epoch beat the ${weighted}log-loss ${h.startingHeadLoss.toFixed(4)} of epoch 0, the one-scale head it started from${head}`;
    }
    return h && h.bestLoss !== null && h.headLoss !== null && h.bestAccuracy !== undefined && h.headAccuracy !== undefined
      ? `on ${h.images} ${images}: ${weighted}log-loss ${h.bestLoss.toFixed(3)} against the head's ${h.headLoss.toFixed(3)}, ${weighted}accuracy ${pct(h.bestAccuracy)} against ${pct(h.headAccuracy)}`
      : '';
  };
  const h = ft.holdout;
  const first = comparison(h, 'held-out training images');
  const again = h?.again ? `; again ${comparison(h.again, 'others') || `on ${h.again.images} others: no fine-tuning epoch beat the head`}` : '';
  const compared = first ? ` ${first.charAt(0).toUpperCase()}${first.slice(1)}${again}.` : '';
  outcome.textContent = ft.kept === 'fine-tuned'
    ? `The model is the fine-tuned network (best fine-tuning epoch ${ft.bestEpoch}, then refitted on every training image).${compared}`
    : `The model is the head alone: fine-tuning did not clearly beat it (lower log-loss by two standard errors, and no fewer images right).${compared}`;
}

/** @param {number} runId */
async function showEvaluation(runId) {
  /** @type {Evaluation} */
  let ev;
  try {
    ev = await api(`/v1/runs/${runId}/evaluation`);
  } catch (error) {
    // A finished run may have none (a store restored or written by other means), or the server may be gone: the run
    // view says so and shows the rest; nothing is thrown into the page.
    if (currentRunId !== runId) return;
    const missing = byId('evaluation-missing');
    missing.hidden = false;
    say(missing, `No evaluation to show: ${error instanceof Error ? error.message : String(error)}`);
    return;
  }
  if (currentRunId !== runId) return;
  byId('evaluation').hidden = false;
  // Without a val/ folder every image is scored, training images included: a check of the labels, not an estimate.
  const scored = ev.onTrainingImages
    ? `Accuracy ${pct(ev.accuracy)} on the ${ev.count} training images (not held out: the project has no val/ folder, so the cross-validated accuracy is the estimate).`
    : `Accuracy ${pct(ev.accuracy)} on ${ev.count} validation images${intervalOf(ev)}.`;
  say(byId('evaluation-summary'), `${scored}${heldOutScores(ev)} Rows: true class; columns: predicted class; right (the diagonal) in bold.`);
  const pairs = ev.labels.length > 2 ? (ev.mostConfused ?? []).slice(0, 5) : [];
  const confused = byId('most-confused');
  confused.hidden = !pairs.length;
  confused.textContent = pairs.length ? `Most often confused: ${pairs.map((p) => `${p.true} taken for ${p.predicted} (${p.count})`).join(', ')}.` : '';
  const max = Math.max(1, ...ev.confusion.flat());
  byId('confusion').replaceChildren(
    el('caption', { class: 'visually-hidden' }, 'Confusion matrix: rows are true classes, columns predicted classes'),
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'true \\ predicted'), ...ev.labels.map((l) => el('th', { scope: 'col' }, l)))),
    el('tbody', {}, ...ev.confusion.map((row, t) => el('tr', {}, el('th', { scope: 'row' }, ev.labels[t] ?? ''), ...row.map((count, p) => {
      const hue = t === p ? 140 : 0;
      const lightness = Math.round(97 - 55 * (count / max));
      // Opaque, so the text's contrast does not hang on the light or dark card below; bold on the diagonal (right).
      return el('td', { ...(t === p ? { class: 'right' } : {}), style: `background: hsl(${hue} 70% ${lightness}%); color: ${readableTextOn(hslToRgb(hue, 70, lightness))}`, title: `${ev.labels[t]} predicted as ${ev.labels[p]}: ${count}` }, String(count));
    })))),
  );
  byId('per-class').replaceChildren(
    el('caption', { class: 'visually-hidden' }, 'Precision, recall and F1 per class'),
    el('thead', {}, el('tr', {}, ...['Class', 'Precision', 'Recall', 'F1', 'Images'].map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, ...Object.entries(ev.perClass).map(([label, s]) => el('tr', {}, el('th', { scope: 'row' }, label), el('td', {}, pct(s.precision)), el('td', {}, pct(s.recall)), el('td', {}, pct(s.f1)), el('td', {}, String(s.support))))),
  );
  const note = byId('label-issues-note');
  note.hidden = !ev.labelIssuesNote;
  note.textContent = ev.labelIssuesNote ?? '';
  const issues = byId('label-issues');
  const labelIssues = ev.labelIssues ?? [];
  byId('label-issues-own').hidden = ev.acceptsLabelFixes !== false || !labelIssues.length;
  // Fixed in an earlier visit: the results still describe the images before.
  byId('label-fixes-note').hidden = !labelIssues.some((m) => m.fixed);
  issues.replaceChildren(...(labelIssues.length ? labelIssues.map((m, index) => {
    const caption = `${m.file}: labelled ${m.given}, looks like ${m.predicted} (${pct(m.confidence, 0)})`;
    const button = el('button', { type: 'button', 'aria-label': `Open ${caption}` },
      el('img', { src: onServer(m.thumbnail), alt: `${m.file}, labelled ${m.given}, looks like ${m.predicted}`, width: '160', height: '160', loading: 'lazy' }),
      el('span', {}, `labelled: ${m.given}`), el('span', {}, `looks like: ${m.predicted} (${pct(m.confidence, 0)})`));
    const fix = ev.acceptsLabelFixes ? 'If the label is wrong, relabel the image or remove it with the buttons under it, then train again.' : undefined;
    button.addEventListener('click', () => openImage({ file: m.file, true: m.given, predicted: m.predicted, confidence: m.confidence, thumbnail: m.thumbnail }, fix));
    // The dashboard's own images (an upload project) can be fixed here; a folder project's are the user's to fix.
    const fixes = m.fixed ? [el('p', { id: `label-fix-${index}`, class: 'small' }, fixedText(m.fixed))] : labelFixControls(runId, index, m);
    return el('li', {}, button, ...(ev.acceptsLabelFixes ? fixes : [el('span', { class: 'small muted' }, `in your folder: ${m.path}`)]));
    // With no cross-validation (an MLP head) nothing was checked: the note above says so, not "None".
  }) : ev.labelIssuesNote ? [] : [el('li', {}, 'None: cross-validation contradicted no label confidently.')]));
  const list = byId('misclassified');
  if (!ev.misclassified.length) {
    list.replaceChildren(el('li', {}, 'No mistakes on these images.'));
    return;
  }
  list.replaceChildren(...ev.misclassified.map((m) => {
    const caption = `${m.file}: true ${m.true}, predicted ${m.predicted} (${pct(m.confidence, 0)})`;
    const button = el('button', { type: 'button', 'aria-label': `Open ${caption}` },
      el('img', { src: onServer(m.thumbnail), alt: `${m.file}, a ${m.true} image predicted as ${m.predicted}`, width: '160', height: '160', loading: 'lazy' }),
      el('span', {}, `true: ${m.true}`), el('span', {}, `predicted: ${m.predicted} (${pct(m.confidence, 0)})`));
    button.addEventListener('click', () => openImage(m));
    return el('li', {}, button);
  }));
}

/**
 * Where the accuracy on images like these probably lies: a score on a few dozen images is a few points either way.
 * @param {Evaluation} ev
 */
function intervalOf(ev) {
  const i = ev.accuracyInterval;
  return i ? ` (${Math.round(i.level * 100)}% interval ${pct(i.low)} to ${pct(i.high)})` : '';
}

/**
 * What only held-out images can say: balanced accuracy where the classes are uneven, and whether the model's
 * confidence can be taken at its word. On the training images (no val/ folder) neither would mean anything.
 * @param {Evaluation} ev
 */
function heldOutScores(ev) {
  if (ev.onTrainingImages) return '';
  const balanced = ev.balancedAccuracy !== undefined && pct(ev.balancedAccuracy) !== pct(ev.accuracy) ? ` Balanced accuracy (the mean over classes) ${pct(ev.balancedAccuracy)}.` : '';
  const c = ev.calibration;
  const sure = c ? ` Mean confidence ${pct(c.confidence)} (${c.confidence > ev.accuracy + 0.005 ? 'surer than it is right' : c.confidence < ev.accuracy - 0.005 ? 'less sure than it is right' : 'as sure as it is right'}; calibration error ${pct(c.ece)}${c.eceByChance === undefined ? '' : c.ece > c.eceByChance + 1e-9 ? ', beyond chance' : ', within chance'}).` : '';
  return balanced + sure;
}

/**
 * "Relabel as <predicted>" and "Remove image" for a label issue of an upload project, as fastai's
 * ImageClassifierCleaner offers: the item then says what was done and its buttons go, and a note under the list says
 * the results describe the images as they were. A refusal is said in the item, tied to the button pressed.
 * @param {number} runId @param {number} index @param {LabelIssue} issue @returns {HTMLElement[]}
 */
function labelFixControls(runId, index, issue) {
  const outcome = el('p', { id: `label-fix-${index}`, class: 'small', role: 'status', tabindex: '-1' });
  const relabel = el('button', { type: 'button', class: 'secondary', 'aria-label': `Relabel as ${issue.predicted}: ${issue.file}` }, `Relabel as ${issue.predicted}`);
  const remove = el('button', { type: 'button', class: 'danger', 'aria-label': `Remove image: ${issue.file}` }, 'Remove image');
  const actions = el('div', { class: 'fix-actions' }, relabel, remove);
  let isBusy = false;
  /** @param {HTMLElement} button @param {() => Promise<string>} change */
  const act = async (button, change) => {
    if (isBusy) return;
    isBusy = true;
    for (const b of [relabel, remove]) untieFailure(b, outcome);
    say(outcome, '');
    try {
      const done = await change();
      actions.remove();
      say(outcome, done);
      // Its buttons are gone: focus stays in the item, on what was done.
      outcome.focus();
      byId('label-fixes-note').hidden = false;
    } catch (error) {
      say(outcome, error instanceof Error ? error.message : String(error), true);
      tieFailure(button, outcome);
      return;
    } finally {
      isBusy = false;
    }
    await showProject().catch((error) => say(projectMessage, String(error), true));
  };
  const url = `/v1/runs/${runId}/label-issues/${index}`;
  relabel.addEventListener('click', () => void act(relabel, async () => {
    /** @type {{ label: string, isDuplicate: boolean }} */
    const moved = await api(`${url}/relabel`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ label: issue.predicted }) });
    return `Moved to ${moved.label}${moved.isDuplicate ? ' (the class had this image already: kept once)' : ''}.`;
  }));
  remove.addEventListener('click', () => {
    if (!window.confirm(`Remove ${issue.file} from the project? This cannot be undone.`)) return;
    void act(remove, async () => {
      await api(`${url}/remove`, { method: 'POST' });
      return fixedText({ action: 'removed' });
    });
  });
  return [actions, outcome];
}

/** What was done about a label issue, as its item says it. @param {LabelFix} fixed */
function fixedText(fixed) {
  return fixed.action === 'removed' ? 'Removed from the project.' : `Moved to ${fixed.label}.`;
}

/** Trains the shown run's project again, with that run's options, once its images were fixed. */
byId('train-again').addEventListener('click', () => {
  void (async () => {
    if (currentRunProjectId !== undefined && Number(projectSelect.value) !== currentRunProjectId) {
      projectSelect.value = String(currentRunProjectId);
      await showProject();
    }
    const form = /** @type {HTMLFormElement} */ (byId('run-form'));
    // The run shown, again, on the fixed images: its options, not whatever the form was left holding.
    if (currentRunOptions) fillRunForm(form, currentRunOptions);
    form.requestSubmit();
  })().catch((error) => say(projectMessage, String(error), true));
});

/** Sets the run form to a run's options, so that it starts that run again (and shows which). @param {HTMLFormElement} form @param {RunOptions} options */
function fillRunForm(form, options) {
  field(form, 'epochs').value = String(options.epochs);
  field(form, 'hidden').value = String(options.hidden);
  field(form, 'backbone').value = options.backbone;
  field(form, 'crops').checked = options.crops === true;
  field(form, 'fineTune').checked = options.fineTune !== undefined;
  if (options.fineTune) {
    field(form, 'unfreeze').value = options.fineTune.unfreeze;
    field(form, 'fineTuneEpochs').value = String(options.fineTune.epochs);
    field(form, 'views').value = String(options.fineTune.views);
    field(form, 'classWeights').value = options.fineTune.classWeights;
  }
  field(form, 'fineTune').dispatchEvent(new Event('change'));
}

/** The sRGB colour (0..255) of CSS `hsl(hue saturation% lightness%)`. @param {number} hue @param {number} saturation @param {number} lightness @returns {[number, number, number]} */
function hslToRgb(hue, saturation, lightness) {
  const l = lightness / 100;
  const a = (saturation / 100) * Math.min(l, 1 - l);
  /** @param {number} n */
  const channel = (n) => {
    const k = (n + hue / 30) % 12;
    return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [channel(0), channel(8), channel(4)];
}

/**
 * Black or white text, whichever contrasts more with the background: one of them is always at least 4.58:1, over
 * WCAG's 4.5:1 (white on a full green cell, chosen by lightness alone, was 2.9:1). As src/report/readable-text-color.ts.
 * @param {[number, number, number]} rgb
 */
function readableTextOn(rgb) {
  const [r, g, b] = rgb.map((v) => (v / 255 <= 0.03928 ? v / 255 / 12.92 : ((v / 255 + 0.055) / 1.055) ** 2.4));
  const luminance = 0.2126 * (r ?? 0) + 0.7152 * (g ?? 0) + 0.0722 * (b ?? 0);
  return 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.05 ? '#fff' : '#000';
}

/**
 * @param {Mistake} m
 * @param {string} [fix] how to put a wrong label right, when not by moving the file (an upload project's label issue)
 */
function openImage(m, fix = "If the label is wrong, fix the file's folder and train again.") {
  const dialog = /** @type {HTMLDialogElement} */ (byId('image-dialog'));
  byId('image-dialog-title').textContent = m.file;
  const img = /** @type {HTMLImageElement} */ (byId('image-dialog-img'));
  img.src = onServer(`${m.thumbnail}?size=320`);
  img.alt = `${m.file}, labelled ${m.true}`;
  byId('image-dialog-text').textContent = `Labelled ${m.true}; the model says ${m.predicted} with ${pct(m.confidence)} confidence. ${fix}`;
  dialog.showModal();
}

/**
 * A form's submit: its failure is said next to it (`messageId`, a live region), where the user is looking, not in the
 * New project card, and tied to the field it is about (`faultyField` names it from the message or the API's error
 * code; without one, the form's button).
 * @param {string} id @param {(form: HTMLFormElement) => Promise<void>} handler @param {string} [messageId]
 * @param {(text: string, code: string | undefined) => string | undefined} [faultyField]
 */
function onSubmit(id, handler, messageId, faultyField = () => undefined) {
  const form = /** @type {HTMLFormElement} */ (byId(id));
  const message = messageId ? byId(messageId) : projectMessage;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const button = form.querySelector('button');
    if (button) button.disabled = true;
    say(message, '');
    for (const control of form.querySelectorAll('[aria-invalid], button')) untieFailure(/** @type {HTMLElement} */ (control), message);
    handler(form)
      .catch((/** @type {unknown} */ error) => {
        const text = error instanceof Error ? error.message : String(error);
        say(message, text, true);
        const name = faultyField(text, error instanceof ApiError ? error.code : undefined);
        const control = name ? field(form, name) : form.querySelector('button[type="submit"]');
        if (control instanceof HTMLElement) tieFailure(control, message);
      })
      .finally(() => {
        if (button) button.disabled = false;
      });
  });
}

/** @param {HTMLFormElement} form @param {string} name */
const field = (form, name) => /** @type {HTMLInputElement} */ (form.elements.namedItem(name));

// A name another project has (CONFLICT) is the name field's fault, whatever words the name itself holds.
onSubmit('folder-form', async (form) => {
  const project = await api('/v1/projects', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: field(form, 'name').value, folder: field(form, 'folder').value }) });
  say(projectMessage, `Created project ${project.name} with ${project.classes.length} classes.`);
  form.reset();
  await loadProjects(project.id);
}, undefined, (text, code) => (code === 'CONFLICT' || (/\bname\b/.test(text) && !/folder/i.test(text)) ? 'name' : 'folder'));

onSubmit('upload-project-form', async (form) => {
  const project = await api('/v1/projects', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: field(form, 'name').value }) });
  say(projectMessage, `Created project ${project.name}. Now upload images for each class below.`);
  form.reset();
  await loadProjects(project.id);
}, undefined, () => 'name');

/** Images per upload request: under the server's file-count limit (256), and a refusal loses little progress. */
const UPLOAD_BATCH = 32;

/**
 * Uploads images of one class into the selected project, in batches, all of a batch or none of it (the server's
 * rule). A refusal (not an image, too large: 413, disk full: 507, a run in progress: 409) stops there; the outcome
 * says how many of the first images were stored and why the rest were not. Files and webcam samples both come here.
 * @param {string} label @param {import('./webcam-samples.js').NamedImage[]} images @param {(sent: number) => void} [onProgress]
 * @returns {Promise<import('./webcam-samples.js').UploadOutcome>}
 */
async function uploadImages(label, images, onProgress = () => undefined) {
  const url = `/v1/projects/${projectSelect.value}/images`;
  let sent = 0;
  let duplicates = 0;
  for (let i = 0; i < images.length; i += UPLOAD_BATCH) {
    const batch = images.slice(i, i + UPLOAD_BATCH);
    const body = new FormData();
    body.append('label', label);
    for (const image of batch) body.append('files', image.blob, image.name);
    try {
      /** @type {{ duplicates: number }} */
      const result = await api(url, { method: 'POST', body });
      duplicates += result.duplicates;
    } catch (error) {
      return { sent, duplicates, error: error instanceof Error ? error.message : String(error) };
    }
    sent += batch.length;
    if (sent < images.length) onProgress(sent);
  }
  return { sent, duplicates };
}

onSubmit('upload-form', async (form) => {
  const files = Array.from(field(form, 'files').files ?? []);
  const label = field(form, 'label').value.trim();
  const message = byId('upload-message');
  const outcome = await uploadImages(label, files.map((file) => ({ blob: file, name: file.name })), (sent) => say(message, `Uploading ${files.length} images of ${label}: ${sent} sent…`));
  const duplicates = outcome.duplicates ? ` (${outcome.duplicates} already in the class, kept once)` : '';
  if (outcome.error) {
    if (outcome.sent) await showProject();
    throw new Error(outcome.sent ? `Uploaded ${outcome.sent} of ${files.length} images of ${label}${duplicates}; the rest were refused: ${outcome.error}` : outcome.error);
  }
  say(message, `Uploaded ${files.length} images of ${label}${duplicates}.`);
  form.reset();
  await showProject();
}, 'upload-message', (text) => (/class name|body\/label/.test(text) ? 'label' : 'files'));

const webcam = webcamPanel({ classField: field(/** @type {HTMLFormElement} */ (byId('upload-form')), 'label'), upload: uploadImages, onSaved: () => showProject() });

/** A class chip's camera button: records webcam samples into that class. @param {string} label */
function webcamClassButton(label) {
  const button = el('button', { type: 'button', class: 'webcam-class', 'aria-label': `Webcam samples for ${label}`, title: `Webcam samples for ${label}` });
  // An icon, not a word, so the chip still reads "<class>: <count>".
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
  path.setAttribute('d', 'M4 7h3l2-2h6l2 2h3v12H4zM12 9a4 4 0 1 0 0 8 4 4 0 0 0 0-8z');
  path.setAttribute('fill', 'currentColor');
  svg.append(path);
  button.append(svg);
  button.addEventListener('click', () => {
    field(/** @type {HTMLFormElement} */ (byId('upload-form')), 'label').value = label;
    webcam.open();
  });
  return button;
}

const fineTuneBox = field(/** @type {HTMLFormElement} */ (byId('run-form')), 'fineTune');
const syncFineTune = () => {
  byId('fine-tune-options').hidden = !fineTuneBox.checked;
};
fineTuneBox.addEventListener('change', syncFineTune);
syncFineTune();

onSubmit('run-form', async (form) => {
  const backbone = field(form, 'backbone').value.trim();
  const fineTune = field(form, 'fineTune').checked
    ? {
        unfreeze: field(form, 'unfreeze').value,
        epochs: Number(field(form, 'fineTuneEpochs').value),
        views: Number(field(form, 'views').value),
        classWeights: field(form, 'classWeights').value,
      }
    : undefined;
  const crops = field(form, 'crops').checked;
  const body = { epochs: Number(field(form, 'epochs').value), hidden: Number(field(form, 'hidden').value), ...(backbone ? { backbone } : {}), ...(crops ? { crops } : {}), ...(fineTune ? { fineTune } : {}) };
  const run = await api(`/v1/projects/${projectSelect.value}/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  await showProject();
  await openRun(run.id);
}, 'run-form-message', (text) => (/backbone/i.test(text) ? 'backbone' : undefined));

/** The folders projects may come from (`--data-root`), offered as choices; without any, only uploads. */
async function loadDataRoots() {
  /** @type {{ roots: { root: string, folders: string[] }[] }} */
  const { roots } = await api('/v1/data-roots');
  const folderForm = /** @type {HTMLFormElement} */ (byId('folder-form'));
  byId('folder-choices').replaceChildren(...roots.flatMap((r) => [r.root, ...r.folders]).map((f) => el('option', { value: f })));
  folderForm.hidden = roots.length === 0;
  say(byId('data-roots-note'), roots.length
    ? `Folders under ${roots.map((r) => r.root).join(', ')} can become projects.`
    : 'This server takes no folders from its disk (it was started without --data-root): upload the images instead.');
}

/**
 * Writes the project shown and the run open into the address's fragment (#project=3&run=5), so that a reload, or the
 * address copied to another tab, comes back to them instead of the newest project with no run open.
 */
function rememberPlace() {
  const project = Number(projectSelect.value);
  const place = project ? `#project=${project}${currentRunId !== undefined ? `&run=${currentRunId}` : ''}` : '';
  history.replaceState(null, '', `${location.pathname}${location.search}${place}`);
}

projectSelect.addEventListener('change', () => {
  // Samples go to the project shown when they were taken: the panel does not carry over to another project.
  webcam.close();
  rememberPlace();
  void showProject().catch((error) => say(projectMessage, String(error), true));
});
const place = new URLSearchParams(location.hash.slice(1));
void loadProjects(Number(place.get('project')) || undefined)
  .then(() => {
    const run = Number(place.get('run'));
    // A run deleted since is not an error to show: the page stays on its project.
    if (run && Number(projectSelect.value) === Number(place.get('project'))) return openRun(run).catch(() => undefined);
    return undefined;
  })
  .then(rememberPlace)
  .catch((error) => say(projectMessage, `Cannot reach the server: ${error}`, true));
void loadDataRoots().catch((error) => say(projectMessage, String(error), true));
