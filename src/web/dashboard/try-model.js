// @ts-check
/**
 * "Try the model": a finished run's model on an image the user picks or drops, before it is downloaded or served,
 * as Teachable Machine's preview does. The image goes to `POST /v1/runs/:id/predict` (the server decodes it with the
 * model's own preprocessing, as `graft predict` does), and every class comes back as a bar, most likely first.
 */

/** @typedef {{ label: string, probability: number }} LabelProbability */

/** @template {HTMLElement} T @param {string} id @param {new () => T} type @returns {T} */
function element(id, type) {
  const node = document.getElementById(id);
  if (!(node instanceof type)) throw new Error(`#${id} is missing from the page or not a ${type.name}`);
  return node;
}

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
    const ticket = ++asked;
    const forRun = runId;
    if (preview.src) URL.revokeObjectURL(preview.src);
    preview.src = URL.createObjectURL(file);
    preview.alt = `The image tried: ${file.name}`;
    preview.hidden = false;
    results.replaceChildren();
    say(`Classifying ${file.name}...`);
    const form = new FormData();
    form.append('image', file, file.name);
    try {
      /** @type {{ predictions: LabelProbability[], timing_ms: { total: number } }} */
      const answer = await api(`/v1/runs/${forRun}/predict`, { method: 'POST', body: form });
      if (ticket !== asked || forRun !== runId) return;
      results.replaceChildren(...answer.predictions.map(bar));
      say(`${file.name}: ${answer.predictions[0]?.label ?? '?'} (${answer.timing_ms.total.toFixed(0)} ms on the server)`);
    } catch (error) {
      if (ticket !== asked) return;
      preview.hidden = true; // a file the server cannot read shows nothing useful either
      say(`${file.name} could not be classified: ${error instanceof Error ? error.message : String(error)}`, true);
    }
  }

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
      if (id === runId) return;
      runId = id;
      asked++;
      results.replaceChildren();
      preview.hidden = true;
      say('');
    },
  };
}
