import { escapeHtml } from './escape-html.js';

/** One line of a {@link lineChartSvg}. Missing values (undefined or NaN) leave a gap. */
export interface ChartSeries {
  readonly name: string;
  readonly values: readonly (number | undefined)[];
  readonly color: string;
  /**
   * The line's pattern (default solid): validation series are dashed, and series told apart by colour are told apart
   * by pattern too, for readers who do not see the colours (WCAG 1.4.1).
   */
  readonly stroke?: LineStroke;
}

export type LineStroke = 'solid' | 'dashed' | 'dotted' | 'dash-dot';

/** In this order, one per series where a chart has several of one kind. */
export const LINE_STROKES: readonly LineStroke[] = ['solid', 'dashed', 'dotted', 'dash-dot'];

const DASH_ARRAYS: Readonly<Record<LineStroke, string>> = { solid: '', dashed: ' stroke-dasharray="6 4"', dotted: ' stroke-dasharray="2 3"', 'dash-dot': ' stroke-dasharray="8 3 2 3"' };

/** Options of {@link lineChartSvg}. */
export interface LineChartOptions {
  readonly title: string;
  readonly series: readonly ChartSeries[];
  /** Fixed y range; default: 0 to the largest value (at least 1e-9). */
  readonly yMin?: number;
  readonly yMax?: number;
  /** A labelled vertical line before epoch `epoch` (1-based), e.g. where fine-tuning starts. */
  readonly marker?: { readonly epoch: number; readonly label: string };
  /** Labels of the x positions (default 1..n) and the axis title (default 'epoch'), e.g. C values for a CV plot. */
  readonly xLabels?: readonly string[];
  readonly xTitle?: string;
  /** A dot on series `series` at x position `index` (0-based), e.g. the chosen candidate. */
  readonly highlight?: { readonly series: number; readonly index: number; readonly label: string };
}

const WIDTH = 480;
const HEIGHT = 240;
const PAD = { left: 44, right: 12, top: 28, bottom: 30 };

/**
 * An inline SVG line chart over epochs (x = 1..n). It scales to its container through its viewBox, so it never
 * forces horizontal scrolling on a narrow screen. Pure: no DOM, no I/O.
 */
export function lineChartSvg(options: LineChartOptions): string {
  const n = Math.max(0, ...options.series.map((s) => s.values.length));
  const finite = options.series.flatMap((s) => s.values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v)));
  const yMin = options.yMin ?? 0;
  const yMax = options.yMax ?? Math.max(1e-9, ...finite);
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const x = (i: number): number => PAD.left + (n <= 1 ? plotW / 2 : (i / (n - 1)) * plotW);
  const y = (v: number): number => PAD.top + plotH - ((Math.min(yMax, Math.max(yMin, v)) - yMin) / (yMax - yMin || 1)) * plotH;
  const parts: string[] = [];
  const ticks = 4;
  for (let t = 0; t <= ticks; t++) {
    const value = yMin + ((yMax - yMin) * t) / ticks;
    const yy = y(value).toFixed(1);
    parts.push(`<line x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${yy}" y2="${yy}" class="grid"/>`);
    parts.push(`<text x="${PAD.left - 6}" y="${yy}" class="tick" text-anchor="end" dominant-baseline="middle">${formatTick(value)}</text>`);
  }
  const xTicks = n <= 1 ? [0] : [...new Set([0, Math.floor((n - 1) / 2), n - 1])];
  for (const i of xTicks) {
    parts.push(`<text x="${x(i).toFixed(1)}" y="${HEIGHT - PAD.bottom + 16}" class="tick" text-anchor="middle">${escapeHtml(options.xLabels?.[i] ?? String(i + 1))}</text>`);
  }
  const xTitle = options.xTitle ?? 'epoch';
  parts.push(`<text x="${WIDTH - PAD.right}" y="${HEIGHT - 4}" class="tick" text-anchor="end">${escapeHtml(xTitle)}</text>`);
  if (options.marker && n > 1) {
    // Between the last epoch before the marker and the marked one.
    const mx = x(Math.max(0, options.marker.epoch - 1.5)).toFixed(1);
    parts.push(`<line x1="${mx}" x2="${mx}" y1="${PAD.top}" y2="${HEIGHT - PAD.bottom}" stroke="#6b7280" stroke-width="1.5" stroke-dasharray="2 3"/>`);
    parts.push(`<text x="${mx}" y="${PAD.top + 10}" class="tick" dx="4">${escapeHtml(options.marker.label)}</text>`);
  }
  options.series.forEach((s, k) => {
    const segments: string[][] = [[]];
    s.values.forEach((v, i) => {
      if (typeof v === 'number' && Number.isFinite(v)) segments[segments.length - 1]!.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`);
      else if (segments[segments.length - 1]!.length) segments.push([]);
    });
    for (const points of segments.filter((p) => p.length)) {
      const dash = DASH_ARRAYS[s.stroke ?? 'solid'];
      parts.push(points.length === 1
        ? `<circle cx="${points[0]!.split(',')[0]}" cy="${points[0]!.split(',')[1]}" r="3" fill="${escapeHtml(s.color)}"/>`
        : `<polyline points="${points.join(' ')}" fill="none" stroke="${escapeHtml(s.color)}" stroke-width="2"${dash}/>`);
    }
    const lx = PAD.left + k * 110;
    const dash = DASH_ARRAYS[s.stroke ?? 'solid'];
    parts.push(`<line x1="${lx}" x2="${lx + 18}" y1="12" y2="12" stroke="${escapeHtml(s.color)}" stroke-width="2"${dash}/>`);
    parts.push(`<text x="${lx + 22}" y="12" class="legend" dominant-baseline="middle">${escapeHtml(s.name)}</text>`);
  });
  const h = options.highlight;
  const hv = h ? options.series[h.series]?.values[h.index] : undefined;
  if (h && typeof hv === 'number' && Number.isFinite(hv)) {
    parts.push(`<circle cx="${x(h.index).toFixed(1)}" cy="${y(hv).toFixed(1)}" r="5" fill="none" stroke="#111" stroke-width="2"/>`);
    parts.push(`<text x="${x(h.index).toFixed(1)}" y="${(y(hv) - 9).toFixed(1)}" class="tick" text-anchor="middle">${escapeHtml(h.label)}</text>`);
  }
  const summary = options.series
    .map((s) => {
      const last = [...s.values].reverse().find((v) => typeof v === 'number' && Number.isFinite(v));
      return `${s.name}: last ${last === undefined ? 'n/a' : formatTick(last)}`;
    })
    .join('; ');
  const marked = options.marker ? ` ${options.marker.label} at epoch ${options.marker.epoch}.` : '';
  return (
    `<svg class="chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${escapeHtml(`${options.title} over ${n} ${xTitle === 'epoch' ? 'epochs' : `values of ${xTitle}`}.${marked} ${summary}`)}" preserveAspectRatio="xMidYMid meet">` +
    `<title>${escapeHtml(options.title)}</title>${parts.join('')}</svg>`
  );
}

/** A value as the chart's axis labels and summary write it (its data table too): 3 decimals under 1, 2 up to 100. */
export function formatTick(value: number): string {
  if (value === 0) return '0';
  const abs = Math.abs(value);
  return abs >= 100 ? value.toFixed(0) : abs >= 1 ? value.toFixed(2) : value.toFixed(3);
}
