// @ts-check
/**
 * "Try the model": a finished run's model on an image the user picks or drops, before it is downloaded or served,
 * as Teachable Machine's preview does. The image goes to `POST /v1/runs/:id/predict` (the server decodes it with the
 * model's own preprocessing, as `graft predict` does), and every class comes back as a bar, most likely first. Or
 * live: the webcam's square centre (as its samples are taken) a few times a second, the bars following it.
 */

import { cameraFailure, drawSquareFrame, element, insecurePage, SAMPLE_SIZE } from './webcam-samples.js';

/** @typedef {{ label: string, probability: number }} LabelProbability */

/** Time between two webcam frames sent while the live preview runs (one request in flight at most). */
const LIVE_INTERVAL_MS = 400;

/**
 * Wires `#try-model` to the run the page shows. `show(runId, isFinished)` is called whenever the run view changes.
 * @param {(url: string, init?: RequestInit) => Promise<any>} api the page's request function (cookie, X-Graft-Request)
 */
export function tryModelPanel(api) {
  const panel = element('try-model', HTMLElement);
  const input = element('try-file', HTMLInputElement);
  const drop = element('try-drop', HTMLLabelElement);
  const preview = element('try-preview', HTMLImageElement);
  const results = element('try-results', HTMLOListElement);
  const message = element('try-message', HTMLParagraphElement);
  const webcam = element('try-webcam', HTMLButtonElement);
  const video = element('try-video', HTMLVideoElement);
  const canvas = Object.assign(document.createElement('canvas'), { width: SAMPLE_SIZE, height: SAMPLE_SIZE });
  /** @type {MediaStream | undefined} */ let stream;
  /** @type {ReturnType<typeof setTimeout> | undefined} */ let timer;
  /** @type {number | undefined} */ let runId;
  /** Counts requests: an answer for an image replaced since, or for another run, is dropped. */
  let asked = 0;

  /** @param {string} text @param {boolean} [isError] */
  const say = (text, isError = false) => {
    message.textContent = text;
    message.classList.toggle('error', isError);
  };

  /** @param {File} file */
  async function classify(file) {
    if (runId === undefined) return;
    stopWebcam();
    if (preview.src) URL.revokeObjectURL(preview.src);
    preview.src = URL.createObjectURL(file);
    preview.alt = `The image tried: ${file.name}`;
    preview.hidden = false;
    results.replaceChildren();
    say(`Classifying ${file.name}...`);
    const ok = await ask(file, file.name);
    if (!ok) preview.hidden = true; // a file the server cannot read shows nothing useful either
  }

  /**
   * Sends one image and shows its classes; false when it was refused (said in the panel), true when shown or
   * overtaken by a newer image or another run. @param {Blob} image @param {string} name
   */
  async function ask(image, name) {
    const ticket = ++asked;
    const forRun = runId;
    const form = new FormData();
    form.append('image', image, name);
    try {
      /** @type {{ predictions: LabelProbability[], timing_ms: { total: number } }} */
      const answer = await api(`/v1/runs/${forRun}/predict`, { method: 'POST', body: form });
      if (ticket !== asked || forRun !== runId) return true;
      results.replaceChildren(...answer.predictions.map(bar));
      say(`${name}: ${answer.predictions[0]?.label ?? '?'} (${answer.timing_ms.total.toFixed(0)} ms on the server)`);
      return true;
    } catch (error) {
      if (ticket !== asked) return true;
      say(`${name} could not be classified: ${error instanceof Error ? error.message : String(error)}`, true);
      return false;
    }
  }

  async function startWebcam() {
    const insecure = insecurePage();
    if (insecure) return say(insecure, true);
    say('Starting the camera...');
    /** @type {MediaStream} */
    let given;
    try {
      given = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment', width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
    } catch (error) {
      return say(cameraFailure(error), true);
    }
    if (panel.hidden || webcam.getAttribute('aria-pressed') !== 'true') {
      for (const track of given.getTracks()) track.stop(); // closed while the camera was being asked for
      return;
    }
    stream = given;
    video.srcObject = stream;
    video.hidden = false;
    preview.hidden = true;
    results.replaceChildren();
    say('Camera on: the bars follow what it sees.');
    const forRun = runId;
    const next = async () => {
      if (stream !== given || forRun !== runId) return;
      if (drawSquareFrame(video, canvas)) {
        const frame = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.9));
        if (frame instanceof Blob && stream === given) await ask(frame, 'webcam');
      }
      if (stream === given) timer = setTimeout(next, LIVE_INTERVAL_MS);
    };
    void next();
  }

  function stopWebcam() {
    // An answer still on its way is for a frame of the camera being stopped: dropped, so the bars stay put and the
    // panel keeps saying why the camera stopped.
    if (stream) asked++;
    clearTimeout(timer);
    timer = undefined;
    for (const track of stream?.getTracks() ?? []) track.stop();
    stream = undefined;
    video.srcObject = null;
    video.hidden = true;
    webcam.setAttribute('aria-pressed', 'false');
    webcam.textContent = 'Use webcam';
  }

  webcam.addEventListener('click', () => {
    if (webcam.getAttribute('aria-pressed') === 'true') {
      stopWebcam();
      say('Camera off.');
      return;
    }
    webcam.setAttribute('aria-pressed', 'true');
    webcam.textContent = 'Stop webcam';
    void startWebcam().then(() => {
      if (!stream) stopWebcam(); // refused: the button says "Use webcam" again, the message says why
    });
  });
  // A hidden page keeps no camera and sends no frames: stopped (or its start called off), and started again by hand.
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden || webcam.getAttribute('aria-pressed') !== 'true') return;
    stopWebcam();
    say('The camera was stopped while the page was hidden. Press Use webcam to go on.');
  });

  /** One class's bar: its name, its probability as text and as the bar's width. @param {LabelProbability} p */
  function bar(p) {
    const item = document.createElement('li');
    const name = Object.assign(document.createElement('span'), { className: 'try-label', textContent: p.label });
    const value = Object.assign(document.createElement('span'), { className: 'try-value', textContent: `${(p.probability * 100).toFixed(1)}%` });
    const meter = document.createElement('meter');
    Object.assign(meter, { min: 0, max: 1, value: p.probability });
    meter.setAttribute('aria-label', `${p.label}: ${(p.probability * 100).toFixed(1)}%`);
    item.append(name, meter, value);
    return item;
  }

  input.addEventListener('change', () => {
    const file = input.files?.[0];
    if (file) void classify(file);
    input.value = '';
  });
  drop.addEventListener('dragover', (event) => {
    event.preventDefault();
    drop.classList.add('dragging');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('dragging'));
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    drop.classList.remove('dragging');
    const file = event.dataTransfer?.files?.[0];
    if (file) void classify(file);
  });

  return {
    /** @param {number} id @param {boolean} isFinished */
    show(id, isFinished) {
      panel.hidden = !isFinished;
      if (!isFinished || id !== runId) stopWebcam();
      if (id === runId) return;
      runId = id;
      asked++;
      results.replaceChildren();
      preview.hidden = true;
      say('');
    },
  };
}
