// @ts-check
/**
 * Webcam samples for an upload project, as Teachable Machine collects them: a live preview, "Hold to record"
 * taking square centre crops a few times a second, a strip of what was taken, and the samples uploaded into the
 * class when the button is let go (through the page's one upload path, so refusals read as a file upload's do).
 */

import { tieFailure, untieFailure } from './failure-ties.js';

/** @typedef {{ blob: Blob, name: string }} NamedImage */
/** One hold of the button: its class, the samples not yet stored and their thumbnails. @typedef {{ label: string, images: NamedImage[], thumbs: HTMLLIElement[] }} Recording */
/** What an upload did: `sent` images stored (the first ones), then `error` if a request was refused. @typedef {{ sent: number, duplicates: number, error?: string }} UploadOutcome */
/**
 * @typedef {{
 *   classField: HTMLInputElement,
 *   upload: (label: string, images: NamedImage[], onProgress: (sent: number) => void) => Promise<UploadOutcome>,
 *   onSaved: () => Promise<void>,
 * }} WebcamHooks
 */

/**
 * Side of a saved sample in pixels. The default backbone, like the catalogue's other 224-px ones, takes 224 px from
 * the central 87.5% (`cropFraction`), so 224 / 0.875 = 256 keeps every pixel it uses; more would only make uploads
 * bigger (inception_v3, at 299 px, scales these up a little).
 */
export const SAMPLE_SIZE = 256;
/** Time between two samples while the button is held: about eight a second, as Teachable Machine takes them. */
export const SAMPLE_INTERVAL_MS = 120;
/** Thumbnails kept in the strip; older ones leave it (the samples themselves are uploaded). */
const MAX_THUMBS = 60;

/** The page's element `id`, of the type the script expects. @template {HTMLElement} T @param {string} id @param {new () => T} type @returns {T} */
export function element(id, type) {
  const node = document.getElementById(id);
  if (!(node instanceof type)) throw new Error(`#${id} is missing from the page or not a ${type.name}`);
  return node;
}

/** Why the camera could not start, said so the user knows what to do. @param {unknown} error */
export function cameraFailure(error) {
  const name = error instanceof DOMException ? error.name : '';
  if (name === 'NotAllowedError' || name === 'SecurityError') {
    return 'Camera access was denied. Allow the camera for this site (the camera icon in the address bar, or the browser\'s site settings), then press Start camera.';
  }
  if (name === 'NotFoundError' || name === 'OverconstrainedError') return 'No camera was found. Connect one, then press Start camera.';
  if (name === 'NotReadableError' || name === 'AbortError') return 'The camera could not be started: another application may be using it. Close that, then press Start camera.';
  return `The camera could not be started: ${error instanceof Error ? error.message : String(error)}`;
}

/** Why this page cannot have a camera (getUserMedia exists only in a secure context), or undefined when it can. */
export function insecurePage() {
  if (window.isSecureContext && typeof navigator.mediaDevices?.getUserMedia === 'function') return undefined;
  return `The webcam needs a secure page: open the dashboard over https, or on this machine as http://localhost or http://127.0.0.1 (browsers offer cameras only there). This page is ${location.origin}.`;
}

/**
 * The square centre of the video's current frame, unmirrored, drawn at `canvas`'s size: what a sample keeps, and
 * what "Try the model" sends. False while the video has no frame yet.
 * @param {HTMLVideoElement} video @param {HTMLCanvasElement} canvas
 */
export function drawSquareFrame(video, canvas) {
  const { videoWidth: w, videoHeight: h } = video;
  if (!w || !h) return false;
  const side = Math.min(w, h);
  canvas.getContext('2d')?.drawImage(video, (w - side) / 2, (h - side) / 2, side, side, 0, 0, canvas.width, canvas.height);
  return true;
}

/**
 * Wires the webcam panel of the page (`#webcam-panel`) to the upload form's class field. Returns how to open it
 * and close it; closing (or the page being hidden) stops the camera.
 * @param {WebcamHooks} hooks
 */
export function webcamPanel(hooks) {
  const panel = element('webcam-panel', HTMLElement);
  const opener = element('webcam-open', HTMLButtonElement);
  const message = element('webcam-message', HTMLParagraphElement);
  const live = element('webcam-live', HTMLDivElement);
  const video = element('webcam-video', HTMLVideoElement);
  const record = element('webcam-record', HTMLButtonElement);
  const count = element('webcam-count', HTMLSpanElement);
  const thumbs = element('webcam-thumbs', HTMLUListElement);
  const start = element('webcam-start', HTMLButtonElement);
  const cameraChoice = element('webcam-camera-choice', HTMLLabelElement);
  const camera = element('webcam-camera', HTMLSelectElement);
  const unsaved = element('webcam-unsaved', HTMLDivElement);

  /** @type {MediaStream | undefined} */ let stream;
  /** @type {ReturnType<typeof setInterval> | undefined} */ let timer;
  /** The last recording; its samples until they are stored. @type {Recording} */
  let pending = { label: '', images: [], thumbs: [] };
  /** Encodings still running (a sample counts once its JPEG exists). @type {Set<Promise<void>>} */
  const encoding = new Set();
  let taken = 0;
  let isUploading = false;
  /** Counts camera starts: a start overtaken by a later one (or by closing) stops the stream it was given. */
  let starts = 0;
  /** What had focus when the camera was asked for: focus moves into the panel only if the user has not moved it. @type {Element | null} */
  let focusAtStart = null;
  const canvas = Object.assign(document.createElement('canvas'), { width: SAMPLE_SIZE, height: SAMPLE_SIZE });

  /**
   * Says `text` in the panel's live region; a failure is tied to the control it concerns (`control`: the Class field,
   * Start camera, Upload again), and the next message unties it.
   * @param {string} text @param {boolean} [isError] @param {HTMLElement} [control]
   */
  const say = (text, isError = false, control = undefined) => {
    for (const tied of [hooks.classField, start, element('webcam-retry', HTMLButtonElement)]) untieFailure(tied, message);
    message.textContent = text;
    message.classList.toggle('error', isError);
    if (control) tieFailure(control, message);
  };
  const isLive = () => stream?.getVideoTracks().some((t) => t.readyState === 'live') ?? false;
  const sync = () => {
    // Samples a refused upload left: sent again or discarded before more are taken, so none is lost unnoticed.
    const hasUnsaved = timer === undefined && !isUploading && pending.images.length > 0;
    live.hidden = !stream;
    start.hidden = Boolean(stream);
    unsaved.hidden = !hasUnsaved;
    record.disabled = timer === undefined && (isUploading || hasUnsaved || !isLive());
    count.textContent = taken ? `${taken} sample${taken === 1 ? '' : 's'} taken` : 'No samples yet';
  };

  function stopCamera() {
    stopRecording();
    for (const track of stream?.getTracks() ?? []) track.stop();
    stream = undefined;
    video.srcObject = null;
    sync();
  }

  /** @param {string} [deviceId] */
  async function startCamera(deviceId) {
    stopCamera();
    // getUserMedia exists only in a secure context: https, or http on localhost / 127.0.0.1.
    const insecure = insecurePage();
    if (insecure) {
      say(insecure, true);
      return;
    }
    say('Starting the camera…');
    focusAtStart = document.activeElement;
    const attempt = ++starts;
    /** @type {MediaStream} */
    let given;
    try {
      // The back camera by default, as the classify page asks for: the samples then look like what it will classify.
      const source = deviceId ? { deviceId: { exact: deviceId } } : { facingMode: 'environment' };
      given = await navigator.mediaDevices.getUserMedia({ video: { ...source, width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
    } catch (error) {
      if (attempt !== starts || panel.hidden) return;
      sync();
      say(cameraFailure(error), true, start);
      focusInto(start);
      return;
    }
    if (attempt !== starts || panel.hidden) {
      for (const track of given.getTracks()) track.stop();
      return;
    }
    stream = given;
    const track = stream.getVideoTracks()[0];
    // A front camera (or a laptop's, which says no facing) is previewed as a mirror, as people expect of it; the
    // samples are not mirrored (see the help text).
    video.classList.toggle('mirrored', track?.getSettings().facingMode !== 'environment');
    video.srcObject = stream;
    track?.addEventListener('ended', () => {
      stopCamera();
      say('The camera stopped (unplugged, or taken by another application). Press Start camera to go on.', true);
    });
    await listCameras(track?.getSettings().deviceId);
    say(`Camera on. Hold to record samples of ${describeLabel()}.`);
    sync();
    focusInto(record);
  }

  /** @param {HTMLElement} target */
  function focusInto(target) {
    if (document.activeElement === focusAtStart || document.activeElement === document.body) target.focus();
  }

  /** The picker, shown when there is more than one camera; names are known once access is granted. @param {string | undefined} currentId */
  async function listCameras(currentId) {
    const cameras = (await navigator.mediaDevices.enumerateDevices().catch(() => [])).filter((d) => d.kind === 'videoinput');
    camera.replaceChildren(...cameras.map((d, i) => new Option(d.label || `Camera ${i + 1}`, d.deviceId, false, d.deviceId === currentId)));
    cameraChoice.hidden = cameras.length < 2;
  }

  const describeLabel = () => (hooks.classField.value.trim() ? `“${hooks.classField.value.trim()}”` : 'the class you name above');

  /** The class to record into, or undefined after saying why there is none. */
  function chosenLabel() {
    const label = hooks.classField.value.trim();
    if (label && hooks.classField.checkValidity()) return label;
    say(label ? `“${label}” cannot be a class name: use letters, digits, spaces, _ . or -, starting with a letter or digit.` : 'Name the class first (the Class field above), then hold to record.', true, hooks.classField);
    hooks.classField.focus();
    return undefined;
  }

  function startRecording() {
    if (timer !== undefined || record.disabled) return;
    const label = chosenLabel();
    if (!label) return;
    pending = { label, images: [], thumbs: [] };
    taken = 0;
    record.setAttribute('aria-pressed', 'true');
    say(`Recording samples of “${label}”…`);
    takeSample();
    timer = setInterval(takeSample, SAMPLE_INTERVAL_MS);
  }

  function stopRecording() {
    if (timer === undefined) return;
    clearInterval(timer);
    timer = undefined;
    record.setAttribute('aria-pressed', 'false');
    // Uploading from the release on, so the button stays off until the samples are stored.
    isUploading = true;
    sync();
    const batch = pending;
    void Promise.all(encoding).then(() => upload(batch));
  }

  /** Draws the square centre of the current frame, unmirrored, at SAMPLE_SIZE, and encodes it as JPEG. */
  function takeSample() {
    if (!drawSquareFrame(video, canvas)) return;
    const batch = pending;
    const job = new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.9)).then((/** @type {Blob | null} */ blob) => {
      if (!blob || batch !== pending) return;
      const n = batch.images.length + 1;
      batch.images.push({ blob, name: `webcam-${Date.now()}-${n}.jpg` });
      taken = n;
      batch.thumbs.push(addThumb(blob, `Sample ${n} of ${batch.label}`));
      sync();
    });
    encoding.add(job);
    void job.finally(() => encoding.delete(job));
  }

  /** @param {Blob} blob @param {string} alt */
  function addThumb(blob, alt) {
    const url = URL.createObjectURL(blob);
    const item = document.createElement('li');
    item.append(Object.assign(document.createElement('img'), { src: url, alt, width: 48, height: 48 }));
    item.dataset.url = url;
    thumbs.append(item);
    while (thumbs.children.length > MAX_THUMBS) removeThumb(/** @type {HTMLLIElement} */ (thumbs.firstElementChild));
    item.scrollIntoView({ block: 'nearest', inline: 'end' });
    return item;
  }

  /** Shows, and says in its text alternative (not by its border alone), that a sample is not stored. @param {HTMLLIElement} item @param {boolean} isUnsaved */
  function markUnsaved(item, isUnsaved) {
    item.classList.toggle('unsaved', isUnsaved);
    const img = item.querySelector('img');
    if (img) img.alt = `${img.alt.replace(/, not saved$/, '')}${isUnsaved ? ', not saved' : ''}`;
  }

  /** @param {HTMLLIElement} item */
  function removeThumb(item) {
    if (item.dataset.url) URL.revokeObjectURL(item.dataset.url);
    item.remove();
  }

  /**
   * Stores a recording's samples; what a refusal left unsent stays, to send again or discard. The panel may have
   * been closed meanwhile: the samples are stored all the same, and only the page's class list says so.
   * @param {Recording} batch
   */
  async function upload(batch) {
    const { label } = batch;
    const images = [...batch.images];
    if (!images.length) {
      isUploading = false;
      sync();
      return;
    }
    isUploading = true;
    sync();
    say(`Uploading ${images.length} samples of “${label}”…`);
    const outcome = await hooks.upload(label, images, (sent) => {
      if (batch === pending) say(`Uploading ${images.length} samples of “${label}”: ${sent} sent…`);
    });
    isUploading = false;
    batch.images.splice(0, outcome.sent);
    for (const item of batch.thumbs.splice(0, outcome.sent)) markUnsaved(item, false);
    for (const item of batch.thumbs) markUnsaved(item, true);
    if (outcome.sent) await hooks.onSaved().catch(() => undefined);
    if (batch !== pending) {
      sync();
      return;
    }
    const duplicates = outcome.duplicates ? ` (${outcome.duplicates} already in the class, kept once)` : '';
    if (outcome.error) {
      say(`${outcome.sent ? `Saved ${outcome.sent} of ${images.length} samples of “${label}”${duplicates}; the rest were refused` : `The samples of “${label}” were refused`}: ${outcome.error}`, true, element('webcam-retry', HTMLButtonElement));
    } else {
      say(`Saved ${outcome.sent} samples of “${label}”${duplicates}.`);
    }
    sync();
    if (outcome.error) element('webcam-retry', HTMLButtonElement).focus();
  }

  function discardPending() {
    for (const item of pending.thumbs) removeThumb(item);
    say(`Discarded ${pending.images.length} unsaved samples of “${pending.label}”.`);
    pending = { label: '', images: [], thumbs: [] };
    taken = 0;
    sync();
  }

  // Held with the mouse or a finger: pointer capture keeps the release ours even if it happens off the button.
  record.addEventListener('pointerdown', (event) => {
    if (event.button !== 0) return;
    event.preventDefault();
    record.setPointerCapture(event.pointerId);
    record.focus();
    startRecording();
  });
  for (const type of /** @type {const} */ (['pointerup', 'pointercancel', 'lostpointercapture'])) record.addEventListener(type, stopRecording);
  // A long press on a touch screen would otherwise open the context menu.
  record.addEventListener('contextmenu', (event) => event.preventDefault());
  // Held from the keyboard: Space or Enter, ignoring the key's auto-repeat.
  record.addEventListener('keydown', (event) => {
    if (event.key !== ' ' && event.key !== 'Enter') return;
    event.preventDefault();
    if (!event.repeat) startRecording();
  });
  record.addEventListener('keyup', (event) => {
    if (event.key !== ' ' && event.key !== 'Enter') return;
    event.preventDefault();
    stopRecording();
  });
  record.addEventListener('blur', stopRecording);

  start.addEventListener('click', () => void startCamera(camera.value || undefined));
  camera.addEventListener('change', () => void startCamera(camera.value));
  element('webcam-retry', HTMLButtonElement).addEventListener('click', () => void upload(pending));
  element('webcam-discard', HTMLButtonElement).addEventListener('click', discardPending);
  element('webcam-close', HTMLButtonElement).addEventListener('click', () => close());
  panel.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') close();
  });
  hooks.classField.addEventListener('input', () => {
    if (!panel.hidden && isLive() && !isUploading && !pending.images.length) say(`Camera on. Hold to record samples of ${describeLabel()}.`);
  });
  // A hidden page keeps no camera: the light goes off, and nothing records in a background tab.
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden || panel.hidden) return;
    starts++;
    stopCamera();
    say('The camera was stopped while the page was hidden. Press Start camera to go on.');
  });
  window.addEventListener('pagehide', stopCamera);

  function open() {
    const wasHidden = panel.hidden;
    panel.hidden = false;
    opener.setAttribute('aria-expanded', 'true');
    if (wasHidden || !stream) void startCamera();
    panel.scrollIntoView({ block: 'nearest' });
  }

  function close() {
    if (panel.hidden) return;
    starts++;
    stopCamera();
    for (const item of [...thumbs.children]) removeThumb(/** @type {HTMLLIElement} */ (item));
    pending = { label: '', images: [], thumbs: [] };
    taken = 0;
    say('');
    panel.hidden = true;
    opener.setAttribute('aria-expanded', 'false');
    sync();
    if (!opener.closest('[hidden]')) opener.focus();
  }

  opener.addEventListener('click', () => (panel.hidden ? open() : close()));
  sync();
  return { open, close };
}
