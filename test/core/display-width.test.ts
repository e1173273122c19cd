import { describe, expect, it } from 'vitest';
import { displayWidth, padEndDisplay, truncateDisplay } from '../../src/core/display-width.js';
import { evaluatePredictions } from '../../src/metrics/classification.js';
import { formatReport } from '../../src/metrics/format-report.js';

describe('display width', () => {
  it('counts what a terminal shows: a decomposed accent is one column, an emoji or a CJK character two', () => {
    expect(['café', 'cafe\u0301', '🐝bee', '蜜蜂', 'ants'].map(displayWidth)).toEqual([4, 4, 5, 4, 4]);
    expect(padEndDisplay('cafe\u0301', 6)).toBe('cafe\u0301  ');
    expect(truncateDisplay('cafe\u0301-au-lait-noir', 6)).toBe('cafe\u0301-~'); // never splits the accent from its letter
  });

  it('aligns the per-class table when class names are decomposed or wide', () => {
    const labels = ['cafe\u0301', 'tea', '🐝'];
    const report = formatReport(evaluatePredictions({ labels, trueIndex: [0, 1, 2], probabilities: Float32Array.from([0.9, 0.05, 0.05, 0.1, 0.8, 0.1, 0.1, 0.1, 0.8]) }));
    const rows = report.split('\n').filter((line) => labels.some((l) => line.startsWith(l)));
    expect(rows.length).toBeGreaterThanOrEqual(3);
    const columnOfFirstNumber = (line: string) => displayWidth(line.slice(0, line.search(/\d/)));
    expect(new Set(rows.slice(0, 3).map(columnOfFirstNumber)).size).toBe(1);
  });
});
