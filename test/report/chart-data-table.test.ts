import { describe, expect, it } from 'vitest';
import { chartDataTable } from '../../src/report/chart-figure.js';

describe("a chart's data table", () => {
  it('writes counts as counts ("30", not "30.00") and measurements as the axis writes them', () => {
    const html = chartDataTable({ title: 'Images per bin', series: [{ name: 'images', values: [1, 30, 0], color: '#000' }, { name: 'accuracy', values: [0.5, 0.92, 1], color: '#111' }] });
    const cells = [...html.matchAll(/<td>([^<]*)<\/td>/g)].map((m) => m[1]);
    expect(cells.filter((_, i) => i % 2 === 0)).toEqual(['1', '30', '0']);
    expect(cells[5]).toMatch(/^1\.0+$/);
  });
});
