import { describe, expect, it } from 'vitest';
import {
  accuracy,
  argmax,
  confusionMatrix,
  evaluatePredictions,
  mostConfused,
  perClassScores,
  predictedIndices,
  topKAccuracy,
} from '../../src/metrics/classification.js';
import { formatReport } from '../../src/metrics/format-report.js';

const f32 = (...rows: number[][]): Float32Array => new Float32Array(rows.flat());

describe('building blocks (the TSDoc examples)', () => {
  it('argmax: ties to the lowest index, rows of a flat array, NaN never wins', () => {
    expect(argmax([0.1, 0.7, 0.7])).toBe(1);
    expect(argmax([9, 9, 0.2, 0.5], 2, 2)).toBe(1);
    expect(argmax([0.5, 0.5, 0.5])).toBe(0);
    expect(argmax([Number.NaN, 0.1, Number.NaN, 0.3])).toBe(3);
    expect(argmax([Number.NaN, Number.NaN])).toBe(0);
    expect(() => argmax([])).toThrow(RangeError);
    expect(() => argmax([1, 2], 1, 2)).toThrow(RangeError);
  });

  it('predictedIndices, confusionMatrix, accuracy', () => {
    expect([...predictedIndices(f32([0.2, 0.8], [0.6, 0.4]), 2)]).toEqual([1, 0]);
    expect(confusionMatrix([0, 0, 1, 2], [0, 1, 1, 1], 3)).toEqual([
      [1, 1, 0],
      [0, 1, 0],
      [0, 1, 0],
    ]);
    expect(accuracy([0, 0, 1, 2], [0, 1, 1, 1])).toBe(0.5);
    expect(accuracy(new Int32Array([2, 2]), new Int32Array([2, 2]))).toBe(1);
    expect(() => accuracy([], [])).toThrow(RangeError);
    expect(() => accuracy([0], [0, 1])).toThrow(RangeError);
    expect(() => confusionMatrix([0, 3], [0, 0], 3)).toThrow(/trueIndex\[1\]/);
  });

  it('topKAccuracy ranks ties like argmax', () => {
    const p = f32([0.5, 0.3, 0.2], [0.1, 0.1, 0.8]);
    expect(topKAccuracy([1, 0], p, 3, 2)).toBe(1);
    expect(topKAccuracy([1, 0], p, 3, 1)).toBe(0);
    expect(topKAccuracy([1, 0], p, 3, 3)).toBe(1);
    expect(() => topKAccuracy([1], p, 3, 1)).toThrow(RangeError);
    expect(() => topKAccuracy([1, 0], p, 3, 0)).toThrow(RangeError);
  });

  it('perClassScores: precision 0 for a class never predicted', () => {
    const scores = perClassScores([
      [1, 1, 0],
      [0, 1, 0],
      [0, 1, 0],
    ]);
    expect(scores[0]).toEqual({ precision: 1, recall: 0.5, f1: expect.closeTo(2 / 3, 12), support: 2 });
    expect(scores[1]).toEqual({ precision: expect.closeTo(1 / 3, 12), recall: 1, f1: expect.closeTo(0.5, 12), support: 1 });
    expect(scores[2]).toEqual({ precision: 0, recall: 0, f1: 0, support: 1 });
    expect(() => perClassScores([[1, 2]])).toThrow(RangeError);
  });

  it('evaluatePredictions example', () => {
    const report = evaluatePredictions({
      labels: ['ants', 'bees'],
      trueIndex: [0, 1, 1],
      probabilities: f32([0.9, 0.1], [0.3, 0.7], [0.8, 0.2]),
      files: ['a.jpg', 'b.jpg', 'c.jpg'],
    });
    expect(report.accuracy).toBeCloseTo(2 / 3, 12);
    expect(report.misclassified).toEqual([
      { index: 2, file: 'c.jpg', true: 'bees', predicted: 'ants', confidence: Math.fround(0.8) },
    ]);
    expect(report.balancedAccuracy).toBe(0.75);
    expect(report.mostConfused).toEqual([{ true: 'bees', predicted: 'ants', count: 1 }]);
    expect(report.logLoss).toBeCloseTo(-(Math.log(0.9) + Math.log(0.7) + Math.log(0.2)) / 3, 6);
    expect(report.logLoss!.toFixed(4)).toBe('0.6905');
    expect(report.calibration?.ece).toBeCloseTo(0.4, 6);
  });
});

describe('evaluatePredictions, hand-computed', () => {
  it('a class that is never predicted, and a tie in argmax', () => {
    const report = evaluatePredictions({
      labels: ['ants', 'bees', 'wasps'],
      trueIndex: new Int32Array([0, 0, 1, 2, 1]),
      probabilities: f32(
        [0.9, 0.05, 0.05], // ants -> ants
        [0.2, 0.7, 0.1], //   ants -> bees (0.7)
        [0.1, 0.8, 0.1], //   bees -> bees
        [0.3, 0.6, 0.1], //   wasps -> bees (0.6)
        [0.4, 0.4, 0.2], //   bees -> ants: tie between ants and bees goes to the lower index
      ),
      files: ['a0', 'a1', 'b0', 'w0', 'b1'],
    });
    expect(report.count).toBe(5);
    expect(report.accuracy).toBeCloseTo(0.4, 12);
    expect(report.top5).toBeUndefined();
    expect('top5' in report).toBe(false);
    expect(report.confusion).toEqual({
      labels: ['ants', 'bees', 'wasps'],
      matrix: [
        [1, 1, 0],
        [1, 1, 0],
        [0, 1, 0],
      ],
    });
    expect(report.perClass['ants']).toEqual({ precision: 0.5, recall: 0.5, f1: 0.5, support: 2 });
    expect(report.perClass['bees']!.precision).toBeCloseTo(1 / 3, 12);
    expect(report.perClass['bees']!.recall).toBe(0.5);
    expect(report.perClass['bees']!.f1).toBeCloseTo(0.4, 12);
    expect(report.perClass['wasps']).toEqual({ precision: 0, recall: 0, f1: 0, support: 1 });
    expect(report.macroF1).toBeCloseTo(0.3, 12);
    expect(report.misclassified.map((m) => [m.file, m.true, m.predicted, m.confidence])).toEqual([
      ['a1', 'ants', 'bees', Math.fround(0.7)],
      ['w0', 'wasps', 'bees', Math.fround(0.6)],
      ['b1', 'bees', 'ants', Math.fround(0.4)],
    ]);
  });

  it('a class with zero support: counted in macro F1 only when it was predicted', () => {
    const predictedButAbsent = evaluatePredictions({
      labels: ['a', 'b', 'c'],
      trueIndex: [0, 0, 1],
      probabilities: f32([0.8, 0.1, 0.1], [0.1, 0.2, 0.7], [0.1, 0.8, 0.1]),
    });
    expect(predictedButAbsent.perClass['a']).toEqual({ precision: 1, recall: 0.5, f1: expect.closeTo(2 / 3, 12), support: 2 });
    expect(predictedButAbsent.perClass['b']).toEqual({ precision: 1, recall: 1, f1: 1, support: 1 });
    expect(predictedButAbsent.perClass['c']).toEqual({ precision: 0, recall: 0, f1: 0, support: 0 });
    expect(predictedButAbsent.macroF1).toBeCloseTo((2 / 3 + 1 + 0) / 3, 12);
    expect(predictedButAbsent.misclassified).toEqual([
      { index: 1, file: undefined, true: 'a', predicted: 'c', confidence: Math.fround(0.7) },
    ]);

    const absentAndNeverPredicted = evaluatePredictions({
      labels: ['a', 'b', 'c'],
      trueIndex: [0, 1],
      probabilities: f32([0.8, 0.1, 0.1], [0.1, 0.8, 0.1]),
    });
    expect(absentAndNeverPredicted.perClass['c']).toEqual({ precision: 0, recall: 0, f1: 0, support: 0 });
    expect(absentAndNeverPredicted.macroF1).toBe(1);
    expect(absentAndNeverPredicted.accuracy).toBe(1);
    // Printed as a dash, not as scores of 0 beside a macro F1 of 1 (which read as a contradiction); a class predicted
    // but absent keeps its 0s, which macro F1 counts.
    const text = formatReport(absentAndNeverPredicted);
    expect(text).toMatch(/^c +- +- +- +0$/m);
    expect(text).toContain('(-: no image of this class here, and none predicted as it; left out of macro F1)');
    expect(formatReport(predictedButAbsent)).toMatch(/^c +0\.0000 +0\.0000 +0\.0000 +0$/m);
  });

  it('top5 only with more than 5 classes; ties ranked by index', () => {
    const labels = ['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6'];
    const report = evaluatePredictions({
      labels,
      trueIndex: [6, 5, 3],
      probabilities: f32(
        [0.3, 0.2, 0.15, 0.1, 0.1, 0.1, 0.05], // true c6 ranks 7th
        [0.2, 0.2, 0.2, 0.1, 0.1, 0.1, 0.1], //  true c5 ties with c3, c4 (ahead) and c6: ranks 6th
        [0.2, 0.2, 0.2, 0.1, 0.1, 0.1, 0.1], //  true c3 ranks 4th
      ),
    });
    expect(report.top5).toBeCloseTo(1 / 3, 12);
    expect(report.accuracy).toBe(0);
    const five = evaluatePredictions({ labels: labels.slice(0, 5), trueIndex: [0], probabilities: f32([1, 0, 0, 0, 0]) });
    expect(five.top5).toBeUndefined();
  });

  it('rejects inconsistent input', () => {
    const base = { labels: ['a', 'b'], trueIndex: [0, 1], probabilities: f32([1, 0], [0, 1]) };
    expect(() => evaluatePredictions({ ...base, probabilities: f32([1, 0, 0]) })).toThrow(RangeError);
    expect(() => evaluatePredictions({ ...base, trueIndex: [0, 2] })).toThrow(/trueIndex\[1\]/);
    expect(() => evaluatePredictions({ ...base, files: ['x'] })).toThrow(RangeError);
    expect(() => evaluatePredictions({ ...base, labels: ['a', 'a'] })).toThrow(TypeError);
    expect(() => evaluatePredictions({ labels: ['a'], trueIndex: [], probabilities: new Float32Array(0) })).toThrow(/no samples/);
  });
});

describe('evaluatePredictions against a brute-force recomputation', () => {
  it('agrees on random data with many ties', () => {
    let seed = 12345;
    const random = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    for (const [n, k] of [
      [300, 8],
      [97, 3],
      [50, 12],
    ] as const) {
      const labels = Array.from({ length: k }, (_, c) => `class-${c}`);
      // Classes 0..k-2 only in truth, so the last class has zero support; scores on a coarse grid, so ties happen.
      const trueIndex = Array.from({ length: n }, () => Math.floor(random() * (k - 1)));
      const probabilities = new Float32Array(n * k).map(() => Math.round(random() * 10) / 10);
      const files = trueIndex.map((_, i) => `img${i}.jpg`);
      const report = evaluatePredictions({ labels, trueIndex, probabilities, files });

      // Brute force: rank each row by sorting (score desc, index asc).
      const ranked = trueIndex.map((_, i) =>
        Array.from({ length: k }, (_, c) => c).sort((a, b) => probabilities[i * k + b]! - probabilities[i * k + a]! || a - b),
      );
      const predicted = ranked.map((r) => r[0]!);
      expect(report.accuracy).toBeCloseTo(trueIndex.filter((t, i) => t === predicted[i]).length / n, 12);
      if (k <= 5) expect(report.top5).toBeUndefined();
      else expect(report.top5).toBeCloseTo(trueIndex.filter((t, i) => ranked[i]!.slice(0, 5).includes(t)).length / n, 12);
      let f1Sum = 0;
      let f1Count = 0;
      labels.forEach((label, c) => {
        const tp = trueIndex.filter((t, i) => t === c && predicted[i] === c).length;
        const support = trueIndex.filter((t) => t === c).length;
        const predictedCount = predicted.filter((p) => p === c).length;
        const precision = predictedCount ? tp / predictedCount : 0;
        const recall = support ? tp / support : 0;
        const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
        const s = report.perClass[label]!;
        expect(s.support).toBe(support);
        expect(s.precision).toBeCloseTo(precision, 12);
        expect(s.recall).toBeCloseTo(recall, 12);
        expect(s.f1).toBeCloseTo(f1, 12);
        if (support > 0 || predictedCount > 0) {
          f1Sum += f1;
          f1Count++;
        }
        for (let p = 0; p < k; p++) {
          expect(report.confusion.matrix[c]![p]).toBe(trueIndex.filter((t, i) => t === c && predicted[i] === p).length);
        }
      });
      expect(report.macroF1).toBeCloseTo(f1Sum / f1Count, 12);
      const occurring = labels.map((_, c) => c).filter((c) => trueIndex.includes(c));
      const recallOf = (c: number): number => trueIndex.filter((t, i) => t === c && predicted[i] === c).length / trueIndex.filter((t) => t === c).length;
      expect(report.balancedAccuracy).toBeCloseTo(occurring.reduce((sum, c) => sum + recallOf(c), 0) / occurring.length, 12);
      const pairs = report.mostConfused;
      expect(pairs.reduce((sum, p) => sum + p.count, 0)).toBe(wrongCount(trueIndex, predicted));
      for (let j = 1; j < pairs.length; j++) expect(pairs[j - 1]!.count).toBeGreaterThanOrEqual(pairs[j]!.count);
      const wrong = trueIndex.flatMap((t, i) => (t === predicted[i] ? [] : [i]));
      expect(report.misclassified.map((m) => m.index).sort((a, b) => a - b)).toEqual(wrong);
      for (let j = 1; j < report.misclassified.length; j++) {
        expect(report.misclassified[j - 1]!.confidence).toBeGreaterThanOrEqual(report.misclassified[j]!.confidence);
      }
      for (const m of report.misclassified) {
        expect(m.confidence).toBe(probabilities[m.index * k + predicted[m.index]!]);
        expect(m.file).toBe(`img${m.index}.jpg`);
      }
    }
  });
});

describe('mostConfused and balancedAccuracy', () => {
  it('the TSDoc example: off-diagonal cells, most first, ties in label order', () => {
    expect(mostConfused([[5, 2, 0], [1, 4, 0], [0, 2, 3]], ['a', 'b', 'c'])).toEqual([
      { true: 'a', predicted: 'b', count: 2 },
      { true: 'c', predicted: 'b', count: 2 },
      { true: 'b', predicted: 'a', count: 1 },
    ]);
    expect(mostConfused([[3, 0], [0, 1]], ['a', 'b'])).toEqual([]);
    expect(() => mostConfused([[1]], ['a', 'b'])).toThrow(/1 matrix rows for 2 labels/);
  });

  it('balanced accuracy is the mean recall over the classes that occur', () => {
    // a: 3 of 4 right; b: 1 of 1; c never occurs (predicted once): (0.75 + 1) / 2, where accuracy is 4/5.
    const report = evaluatePredictions({
      labels: ['a', 'b', 'c'],
      trueIndex: [0, 0, 0, 0, 1],
      probabilities: f32([0.9, 0.05, 0.05], [0.8, 0.1, 0.1], [0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.1, 0.8, 0.1]),
    });
    expect(report.accuracy).toBeCloseTo(0.8, 12);
    expect(report.balancedAccuracy).toBeCloseTo(0.875, 12);
    expect(report.mostConfused).toEqual([{ true: 'a', predicted: 'c', count: 1 }]);
    expect(formatReport(report)).toContain('Balanced accuracy  0.8750  (mean recall over classes)');
  });
});

describe('evaluatePredictions with a class named like an object property', () => {
  it('keeps __proto__ as a class of perClass (assigned, it would set the prototype and vanish)', () => {
    const report = evaluatePredictions({ labels: ['__proto__', 'bees'], trueIndex: [0, 1], probabilities: f32([0.9, 0.1, 0.2, 0.8]) });
    expect(Object.keys(report.perClass)).toEqual(['__proto__', 'bees']);
    expect(JSON.stringify(report.perClass)).toMatch(/^\{"__proto__":\{"precision":1,"recall":1,"f1":1,"support":1\}/);
  });
});

function wrongCount(trueIndex: readonly number[], predicted: readonly number[]): number {
  return trueIndex.filter((t, i) => t !== predicted[i]).length;
}

describe('formatReport', () => {
  it('renders aligned tables, truncated matrix labels and at most 10 mistakes', () => {
    const labels = ['ants', 'a-very-long-label', 'bees'];
    const n = 30;
    const trueIndex = Array.from({ length: n }, (_, i) => i % 3);
    // every sample predicted as class 0, with decreasing confidence
    const probabilities = new Float32Array(n * 3);
    for (let i = 0; i < n; i++) probabilities.set([0.9 - i * 0.01, 0.05 + i * 0.005, 0.05 + i * 0.005], i * 3);
    const text = formatReport(
      evaluatePredictions({ labels, trueIndex, probabilities, files: trueIndex.map((_, i) => `photos/${i}.jpg`) }),
    );
    const lines = text.split('\n');
    // Every sample is called "ants": ants' recall is 1, the others' 0, so balanced accuracy is 1/3 as well.
    expect(lines[0]).toBe('Accuracy           0.3333  (10 of 30; 95% interval 0.1923-0.5122)');
    expect(text).not.toContain('Balanced accuracy');
    expect(lines[1]).toBe('Macro F1           0.1667');
    expect(lines[2]).toMatch(/^Log-loss {11}\d\.\d{4}$/);
    // Thirty samples at 0.9-0.6 confidence, a third right: far more miscalibrated than chance makes a calibrated model look.
    expect(lines[3]).toMatch(/^Calibration error  0\.\d{4}  \(ECE over 10 bins, beyond chance: a calibrated model stays under 0\.\d{4} here 19 times in 20; mean confidence 0\.7550 against accuracy 0\.3333\)$/);
    expect(text).not.toContain('Top-5');

    const header = lines.findIndex((l) => l.startsWith('class'));
    const perClass = lines.slice(header, header + 4);
    expect(perClass[0]).toMatch(/^class\s+precision\s+recall\s+f1\s+support$/);
    expect(perClass[2]).toMatch(/^a-very-long-label\s+0\.0000\s+0\.0000\s+0\.0000\s+10$/);
    expect(new Set(perClass.map((l) => l.length)).size).toBe(1); // right-aligned numbers: equal widths

    const matrixStart = lines.findIndex((l) => l.startsWith('true \\ pred'));
    expect(lines[matrixStart]).toContain('a-very-lo~');
    expect(lines[matrixStart]).not.toContain('a-very-long');
    expect(lines[matrixStart + 2]).toMatch(/^a-very-lo~\s+10\s+0\s+0$/);

    expect(text).toContain('Misclassified: 20, the 10 most confident');
    const listed = lines.filter((l) => /^ +\d\.\d{4}\s/.test(l));
    expect(listed).toHaveLength(10);
    expect(listed[0]).toMatch(/^ +0\.8900\s+a-very-long-label\s+ants\s+photos\/1\.jpg$/);
  });

  it('numbers the confusion matrix columns when two cut names would read alike, each row naming its class', () => {
    const labels = ['american_bulldog', 'american_pit_bull_terrier', 'beagle'];
    const text = formatReport(evaluatePredictions({ labels, trueIndex: [0, 1, 2], probabilities: f32([0.9, 0.05, 0.05, 0.8, 0.1, 0.1, 0.1, 0.1, 0.8]) }));
    const matrix = text.slice(text.indexOf('Confusion matrix'));
    expect(matrix).toMatch(/true \\ pred\s+#1\s+#2\s+#3\n/);
    expect(matrix).toMatch(/#2 american_pit_bull_terrier\s+1\s+0\s+0\n/);
    // Names that stay distinct when cut keep their (cut) names.
    const distinct = formatReport(evaluatePredictions({ labels: ['a-very-long-label', 'ants'], trueIndex: [0], probabilities: f32([1, 0]) }));
    expect(distinct).toMatch(/true \\ pred\s+a-very-lo~\s+ants\n/);
  });

  it('says when nothing was misclassified, and shows top-5 when present', () => {
    const labels = ['a', 'b', 'c', 'd', 'e', 'f'];
    const text = formatReport(evaluatePredictions({ labels, trueIndex: [2], probabilities: f32([0, 0, 1, 0, 0, 0]) }));
    expect(text).toContain('Top-5              1.0000');
    expect(text).not.toContain('Most confused');
    expect(text).toContain('Misclassified: none');
    expect(text.endsWith('\n')).toBe(true);
  });

  it('past 12 classes lists the most confused pairs instead of a matrix too wide for a terminal', () => {
    const k = 13;
    const labels = Array.from({ length: k }, (_, c) => `species-${c}`);
    // Each class c is predicted as c, except: 3 of class 4 as class 5, 2 of class 7 as class 1, 1 of class 0 as 12.
    const truth: number[] = [];
    const predicted: number[] = [];
    for (let c = 0; c < k; c++) for (let j = 0; j < 4; j++) (truth.push(c), predicted.push(c));
    for (const [t, p, times] of [[4, 5, 3], [7, 1, 2], [0, 12, 1]] as const) for (let j = 0; j < times; j++) (truth.push(t), predicted.push(p));
    const probabilities = new Float32Array(truth.length * k);
    predicted.forEach((p, i) => probabilities.fill(0.2 / (k - 1), i * k, (i + 1) * k).set([0.8], i * k + p));
    const text = formatReport(evaluatePredictions({ labels, trueIndex: truth, probabilities }));
    expect(text).not.toContain('true \\ pred');
    expect(text).toContain('Confusion matrix: 13 x 13, too wide to print (in --json as confusion, and in graft report)');
    const list = text.slice(text.indexOf('Most confused'), text.indexOf('Misclassified'));
    expect(list.split('\n').filter((l) => /^ +\d/.test(l))).toEqual([
      expect.stringMatching(/^ +3 +species-4 +species-5$/),
      expect.stringMatching(/^ +2 +species-7 +species-1$/),
      expect.stringMatching(/^ +1 +species-0 +species-12$/),
    ]);
  });
});
