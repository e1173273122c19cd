// @ts-check

/**
 * The upload-and-classify page served by `graft serve`. Everything it shows about a model (labels,
 * preprocessing, metrics) comes from the server's API; the page holds no model constants.
 * `?api=http://host:port` points it at another server (e.g. while running `vite` in development): only from a page
 * on this machine (localhost) to a server on it too. Otherwise a link could send the user's photos to a server of
 * the link maker's choosing and show its answers as this server's.
 */

/**
 * `GET /v1/models/:name` (the fields the page reads).
 * @typedef {{ name: string, labels: string[], preprocessing: { inputSize: number, resize: string, scale: string, layout: string },
 *   backbone?: { name: string }, metrics?: { val: { accuracy: number, loss: number, top5?: number } | null }, cv?: { accuracy: number, folds: number } }} ModelSummary
 */
/** @typedef {{ label: string, probability: number }} Prediction */
/**
 * `POST /v1/models/:name/predict` reply.
 * @typedef {{ model: string, predictions: Prediction[], timing_ms: { total: number } | number }} PredictReply
 */
/** @typedef {{ error?: { code: string, message: string, hint?: string } }} ErrorReply */

const TOP_K = 5;
const refusedApi = /** @type {{ api?: string }} */ ({});
const apiBase = chooseApiBase(new URLSearchParams(location.search).get('api'));

/**
 * The server the page talks to: its own, or the one `?api=` names where both are on this machine. Its own is the
 * folder the page was loaded from (the server's root, or the path a reverse proxy publishes that root under).
 * @param {string | null} asked
 * @returns {URL}
 */
function chooseApiBase(asked) {
  const own = new URL('./', location.href);
  if (asked === null) return own;
  /** @param {string} host */
  const isLoopback = (host) => host === 'localhost' || host.endsWith('.localhost') || host === '127.0.0.1' || host === '[::1]';
  let url;
  try {
    url = new URL(asked, location.href);
    // A server under a path (?api=http://localhost:8080/graft) is that folder: paths below resolve inside it.
    if (!url.pathname.endsWith('/')) url.pathname += '/';
  } catch {
    url = undefined;
  }
  if (url && (url.origin === own.origin || (isLoopback(url.hostname) && isLoopback(location.hostname)))) return url;
  refusedApi.api = asked;
  return own;
}

/**
 * @template {HTMLElement} T
 * @param {string} id
 * @param {new () => T} type
 * @returns {T}
 */
function element(id, type) {
  const found = document.getElementById(id);
  if (!found) throw new Error(`The page lacks #${id}`);
  if (!(found instanceof type)) throw new Error(`#${id} is not a ${type.name}`);
  return found;
}

const ui = {
  pickerWrap: element('picker-wrap', HTMLDivElement),
  picker: element('model', HTMLSelectElement),
  info: element('model-info', HTMLElement),
  summary: element('model-summary', HTMLParagraphElement),
  labels: element('labels', HTMLUListElement),
  drop: element('drop', HTMLDivElement),
  files: element('files', HTMLInputElement),
  cameraStart: element('camera-start', HTMLButtonElement),
  camera: element('camera', HTMLDivElement),
  video: element('video', HTMLVideoElement),
  capture: element('camera-capture', HTMLButtonElement),
  cameraStop: element('camera-stop', HTMLButtonElement),
  status: element('status', HTMLParagraphElement),
  results: element('results', HTMLOListElement),
};

/** @type {ModelSummary[]} */
let models = [];

/** @type {ModelSummary | undefined} */
let current;

/** @type {MediaStream | undefined} */
let stream;

/**
 * @template T
 * @param {string} path
 * @param {RequestInit} [init]
 * @returns {Promise<T>}
 */
async function api(path, init = {}) {
  // With `graft serve --token` the page is authenticated by a cookie; a POST must then also carry this header,
  // which a cross-site form cannot send.
  const headers = new Headers(init.headers);
  if (init.method && init.method !== 'GET') headers.set('x-graft-request', '1');
  const response = await fetch(new URL(path, apiBase), { ...init, headers });
  /** @type {T & ErrorReply} */
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
  const e = body.error;
  throw new Error(e ? `${e.message}${e.hint ? ` (${e.hint})` : ''}` : `HTTP ${response.status}`);
  }
  return body;
}

/** @param {unknown} error */
function messageOf(error) {
  return error instanceof Error ? error.message : String(error);
}

/** @param {number} x */
function formatPercent(x) {
  return `${(x * 100).toFixed(1)}%`;
}

/** @param {string} name */
async function selectModel(name) {
  ui.info.setAttribute('aria-busy', 'true');
  // The detail route is the reference; the list entry is a fallback while it loads.
  current = await /** @type {Promise<ModelSummary | undefined>} */ (api(`v1/models/${encodeURIComponent(name)}`)).catch(() => models.find((m) => m.name === name));
  ui.info.setAttribute('aria-busy', 'false');
  if (!current) return;
  const pre = current.preprocessing;
  const val = current.metrics?.val;
  const parts = [
  `${current.name}: ${current.labels.length} classes`,
  val
    ? `validation accuracy ${formatPercent(val.accuracy)}${val.top5 !== undefined ? `, top-5 ${formatPercent(val.top5)}` : ''}`
    : current.cv
      ? `cross-validated accuracy ${formatPercent(current.cv.accuracy)} (${current.cv.folds} folds of the training images)`
      : 'no accuracy recorded',
  current.backbone ? `backbone ${current.backbone.name}` : '',
  `input ${pre.inputSize} px, ${pre.resize}, scale ${pre.scale}`,
  ].filter(Boolean);
  ui.summary.textContent = `${parts.join('; ')}.`;
  ui.labels.replaceChildren(...current.labels.map((label) => Object.assign(document.createElement('li'), { textContent: label })));
}

/**
 * Says why the page has no model, in the model panel and in the live region (a screen reader hears it there),
 * and ends the panel's busy state, which would have it skipped as still loading.
 * @param {string} text
 */
function say(text) {
  ui.summary.textContent = text;
  ui.status.textContent = text;
  ui.info.setAttribute('aria-busy', 'false');
}

async function loadModels() {
  try {
  models = (await /** @type {Promise<{ models: ModelSummary[] }>} */ (api('v1/models'))).models;
  }
  catch (error) {
  say(`Could not reach the Graft server: ${messageOf(error)}`);
  return;
  }
  if (!models.length) {
  say('The server serves no models.');
  return;
  }
  ui.picker.replaceChildren(...models.map((m) => new Option(m.name, m.name)));
  ui.pickerWrap.hidden = models.length < 2;
  const wanted = new URLSearchParams(location.search).get('model');
  const first = models.find((m) => m.name === wanted) ?? models[0];
  if (first) await selectModel(first.name);
  ui.status.textContent = refusedApi.api === undefined
    ? 'Ready: choose images, drop them here, or use the camera.'
    : `Ready. ?api=${refusedApi.api} was ignored: this page sends images only to its own server (or, on localhost, to another local one).`;
}

/** @param {Prediction[]} predictions */
function barList(predictions) {
  const list = document.createElement('ul');
  list.className = 'bars';
  predictions.forEach((p, i) => {
  const row = document.createElement('li');
  row.className = i === 0 ? 'bar top' : 'bar';
  const name = Object.assign(document.createElement('span'), { className: 'name', textContent: p.label, title: p.label });
  const track = document.createElement('span');
  track.className = 'track';
  track.setAttribute('role', 'meter');
  track.setAttribute('aria-label', p.label);
  track.setAttribute('aria-valuemin', '0');
  track.setAttribute('aria-valuemax', '100');
  track.setAttribute('aria-valuenow', (p.probability * 100).toFixed(1));
  const fill = Object.assign(document.createElement('span'), { className: 'fill' });
  fill.style.display = 'block';
  fill.style.width = `${Math.max(0, Math.min(100, p.probability * 100))}%`;
  track.append(fill);
  const pct = Object.assign(document.createElement('span'), { className: 'pct', textContent: formatPercent(p.probability) });
  row.append(name, track, pct);
  list.append(row);
  });
  return list;
}

/** Posts one image (multipart field `image`) and fills its result card. */
/**
 * @param {Blob} image
 * @param {string} name
 */
async function classify(image, name) {
  if (!current) return;
  const model = current.name;
  const card = document.createElement('li');
  card.className = 'card';
  card.setAttribute('aria-busy', 'true');
  const url = URL.createObjectURL(image);
  const img = Object.assign(document.createElement('img'), { src: url, alt: name });
  img.addEventListener('load', () => URL.revokeObjectURL(url), { once: true });
  const title = Object.assign(document.createElement('h3'), { textContent: name, title: name });
  const body = Object.assign(document.createElement('p'), { textContent: 'Classifying...' });
  card.append(img, title, body);
  ui.results.prepend(card);
  const form = new FormData();
  form.append('image', image, name);
  try {
  const reply = await /** @type {Promise<PredictReply>} */ (api(`v1/models/${encodeURIComponent(model)}/predict?top_k=${TOP_K}`, { method: 'POST', body: form }));
  const top = reply.predictions[0];
  const ms = typeof reply.timing_ms === 'number' ? reply.timing_ms : reply.timing_ms.total;
  card.dataset.top = top?.label ?? '';
  img.alt = top ? `${name}, classified as ${top.label}, ${formatPercent(top.probability)}` : name;
  body.replaceWith(barList(reply.predictions));
  card.append(Object.assign(document.createElement('p'), { className: 'timing', textContent: `${model}, ${ms.toFixed(0)} ms on the server` }));
  ui.status.textContent = top ? `${name}: ${top.label} (${formatPercent(top.probability)})` : `${name}: no prediction`;
  }
  catch (error) {
  body.className = 'error';
  body.textContent = `Could not classify: ${messageOf(error)}`;
  card.dataset.error = 'true';
  ui.status.textContent = `${name}: ${messageOf(error)}`;
  }
  finally {
  card.setAttribute('aria-busy', 'false');
  }
}

/** @param {Iterable<File>} files */
async function classifyFiles(files) {
  const images = [...files].filter((f) => f.type.startsWith('image/') || f.type === '');
  if (!images.length) {
  ui.status.textContent = 'No image files in that selection.';
  return;
  }
  ui.status.textContent = `Classifying ${images.length} image${images.length > 1 ? 's' : ''}...`;
  // A few requests in flight: the server batches concurrent requests (dynamic batching).
  const queue = [...images];
  await Promise.all(Array.from({ length: Math.min(4, queue.length) }, async () => {
  for (let file = queue.shift(); file; file = queue.shift())
  await classify(file, file.name);
  }));
}

async function startCamera() {
  try {
  stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
  }
  catch (error) {
  ui.status.textContent = `The camera is not available: ${messageOf(error)}`;
  return;
  }
  ui.video.srcObject = stream;
  ui.camera.hidden = false;
  ui.capture.focus();
}

function stopCamera() {
  stream?.getTracks().forEach((t) => t.stop());
  stream = undefined;
  ui.video.srcObject = null;
  ui.camera.hidden = true;
  ui.cameraStart.focus();
}

async function capturePhoto() {
  const { videoWidth: w, videoHeight: h } = ui.video;
  if (!w || !h) return;
  const canvas = Object.assign(document.createElement('canvas'), { width: w, height: h });
  canvas.getContext('2d')?.drawImage(ui.video, 0, 0, w, h);
  /** @type {Blob | null} */
  const blob = await new Promise((ok) => canvas.toBlob(ok, 'image/jpeg', 0.92));
  if (blob) await classify(blob, `camera-${new Date().toISOString().slice(11, 19)}.jpg`);
}

ui.files.addEventListener('change', () => {
  if (ui.files.files) void classifyFiles(ui.files.files).then(() => (ui.files.value = ''));
});
ui.drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  ui.drop.classList.add('over');
});
ui.drop.addEventListener('dragleave', () => ui.drop.classList.remove('over'));
ui.drop.addEventListener('drop', (e) => {
  e.preventDefault();
  ui.drop.classList.remove('over');
  if (e.dataTransfer?.files.length) void classifyFiles(e.dataTransfer.files);
});
ui.picker.addEventListener('change', () => void selectModel(ui.picker.value));

if (navigator.mediaDevices && typeof navigator.mediaDevices.getUserMedia === 'function') {
  ui.cameraStart.hidden = false;
  ui.cameraStart.addEventListener('click', () => void startCamera());
  ui.cameraStop.addEventListener('click', stopCamera);
  ui.capture.addEventListener('click', () => void capturePhoto());
}

void loadModels();
