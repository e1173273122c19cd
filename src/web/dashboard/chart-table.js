// @ts-check
/**
 * A run chart's points as a table (under the chart, in its "Data table" disclosure): a screen reader reads the SVG as
 * one image, so the table gives it every epoch's values, written as the chart's labels write them (loss to 3
 * decimals, accuracy as a percentage), a missing held-out score as n/a, and the fine-tuning epochs said.
 * The report's charts have their own (src/report/chart-figure.ts): it renders HTML text from other series, in Node.
 */

/** @typedef {{ epoch: number, phase?: 'head' | 'fine-tune', loss: number, acc: number, val_loss?: number, val_acc?: number }} ChartEpoch */

/** @param {'loss' | 'acc'} key @param {number | undefined} value */
export const chartValue = (key, value) => (typeof value !== 'number' || !Number.isFinite(value) ? 'n/a' : key === 'acc' ? `${(value * 100).toFixed(1)}%` : value.toFixed(3));

/**
 * Fills `table` with one row per epoch: its number (with "(fine-tuning)" on fine-tuning epochs), the train value and
 * the validation value. @param {HTMLTableElement} table @param {readonly ChartEpoch[]} epochs @param {'loss' | 'acc'} key
 */
export function fillChartTable(table, epochs, key) {
  const metric = key === 'acc' ? 'accuracy' : 'loss';
  /** @param {string} tag @param {string} text @param {Record<string, string>} [attrs] */
  const cell = (tag, text, attrs = {}) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    node.textContent = text;
    return node;
  };
  /** @param {HTMLElement[]} cells */
  const row = (cells) => {
    const tr = document.createElement('tr');
    tr.append(...cells);
    return tr;
  };
  const head = document.createElement('thead');
  head.append(row(['Epoch', `Train ${metric}`, `Held-out ${metric}`].map((h) => cell('th', h, { scope: 'col' }))));
  const body = document.createElement('tbody');
  body.append(...epochs.map((e) => row([
    cell('th', `${e.epoch}${e.phase === 'fine-tune' ? ' (fine-tuning)' : ''}`, { scope: 'row' }),
    cell('td', chartValue(key, e[key])),
    cell('td', chartValue(key, key === 'acc' ? e.val_acc : e.val_loss)),
  ])));
  table.replaceChildren(cell('caption', `${key === 'acc' ? 'Accuracy' : 'Loss'} per epoch`, { class: 'visually-hidden' }), head, body);
}
