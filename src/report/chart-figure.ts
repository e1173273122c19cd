import { escapeHtml } from './escape-html.js';
import { formatTick, lineChartSvg, type LineChartOptions } from './line-chart.js';

/**
 * A chart with its points as a table under it, folded in a "Data table" disclosure: the SVG says the shape of the
 * curves, and the table gives every value to a screen reader (which reads an SVG as one image) and to anyone who
 * wants the numbers. Pure: no DOM, no I/O.
 */
export function chartFigure(options: LineChartOptions, caption: string): string {
  return `<div class="chart-block"><figure>${lineChartSvg(options)}<figcaption>${escapeHtml(caption)}</figcaption></figure>${chartDataTable(options)}</div>`;
}

/**
 * The chart's data as an HTML table: its caption is the chart's title, one row per x position (headed by its x label,
 * as on the axis), one column per series, each value written as the chart's labels write it ('n/a' where the line has
 * a gap). The chart's marks are said in words: rows from the marker on carry its label (the phase it starts), and the
 * highlighted point its label, e.g. "0.912 (chosen)". The table scrolls on its own on a narrow screen.
 */
export function chartDataTable(options: LineChartOptions): string {
  const n = Math.max(0, ...options.series.map((s) => s.values.length));
  const xTitle = options.xTitle ?? 'epoch';
  const head = `<tr><th scope="col">${escapeHtml(xTitle)}</th>${options.series.map((s) => `<th scope="col">${escapeHtml(s.name)}</th>`).join('')}</tr>`;
  // A series of counts (images per bin) is written as counts, not as the axis writes ticks ("30.00").
  const isCounts = options.series.map((s) => s.values.every((v) => v === null || v === undefined || Number.isInteger(v)));
  const rows = Array.from({ length: n }, (_, i) => {
    const x = options.xLabels?.[i] ?? String(i + 1);
    const phase = options.marker && i + 1 >= options.marker.epoch ? ` (${options.marker.label})` : '';
    const cells = options.series.map((s, k) => {
      const v = s.values[i];
      const value = typeof v === 'number' && Number.isFinite(v) ? (isCounts[k] ? String(v) : formatTick(v)) : 'n/a';
      const marked = options.highlight && options.highlight.series === k && options.highlight.index === i ? ` (${options.highlight.label})` : '';
      return `<td>${escapeHtml(value + marked)}</td>`;
    });
    return `<tr><th scope="row">${escapeHtml(x + phase)}</th>${cells.join('')}</tr>`;
  });
  const title = escapeHtml(options.title);
  return (
    `<details class="chart-data"><summary>Data table<span class="visually-hidden"> of ${title}</span></summary>` +
    `<div class="scroll" tabindex="0" role="region" aria-label="${title} data, scrollable">` +
    `<table><caption class="visually-hidden">${title}</caption><thead>${head}</thead><tbody>${rows.join('')}</tbody></table></div></details>`
  );
}
