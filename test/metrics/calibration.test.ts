import { describe, expect, it } from 'vitest';
import { binOf, calibration, decimalsApart, isProbabilityMatrix, logLoss } from '../../src/metrics/calibration.js';
import { formatReport } from '../../src/metrics/format-report.js';
import { evaluatePredictions } from '../../src/metrics/classification.js';
import { mulberry32 } from '../../src/core/random.js';

const f32 = (...rows: number[][]): Float32Array => new Float32Array(rows.flat());

const SEVEN = f32([0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.3, 0.5], [0.6, 0.3, 0.1], [0.5, 0.4, 0.1], [1, 0, 0], [0, 0, 1]);

describe('logLoss', () => {
  it("agrees with scikit-learn's log_loss", () => {
    // sklearn.metrics.log_loss([0, 1, 2, 2, 1, 0, 2], SEVEN, labels=[0, 1, 2]) = 0.6416916429544414
    expect(logLoss([0, 1, 2, 2, 1, 0, 2], SEVEN, 3)).toBeCloseTo(0.6416916429544414, 6);
  });

  it('clips a zero probability of the true class at 1e-15 (a confident mistake costs ~34.5, not infinity)', () => {
    const expected = (-Math.log(0.7) - Math.log(0.8) - Math.log(0.5) - Math.log(0.1) - Math.log(0.4) - Math.log(1) - Math.log(1e-15)) / 7;
    expect(logLoss([0, 1, 2, 2, 1, 0, 0], SEVEN, 3)).toBeCloseTo(expected, 6);
  });

  it('rejects sizes that disagree and class indices out of range', () => {
    expect(() => logLoss([0, 1], f32([0.5, 0.5]), 2)).toThrow(/2 probabilities for 2 samples x 2 classes/);
    expect(() => logLoss([2], f32([0.5, 0.5]), 2)).toThrow(/trueIndex\[0\]/);
    expect(() => logLoss([], f32(), 2)).toThrow(/no samples/);
  });
});

describe('calibration', () => {
  it('the TSDoc example: bins, their confidence and accuracy, ECE by hand', () => {
    const c = calibration([0, 0, 1], f32([0.9, 0.1], [0.1, 0.9], [0.4, 0.6]), 2);
    expect(c.bins).toHaveLength(2);
    expect(c.bins[0]).toMatchObject({ from: 0.6, to: 0.7, count: 1, accuracy: 1 });
    expect(c.bins[0]!.confidence).toBeCloseTo(0.6, 6);
    expect(c.bins[1]).toMatchObject({ from: 0.9, to: 1, count: 2, accuracy: 0.5 });
    expect(c.bins[1]!.confidence).toBeCloseTo(0.9, 6);
    expect(c.ece).toBeCloseTo((2 / 3) * 0.4 + (1 / 3) * 0.4, 6);
    expect(c.confidence).toBeCloseTo(0.8, 6);
  });

  it('counts a float32 round number in the bin it stands for', () => {
    expect(Math.fround(0.9) < 0.9).toBe(true);
    expect(binOf(Math.fround(0.9), 10)).toBe(9);
    expect(binOf(Math.fround(0.7), 10)).toBe(7);
    expect(binOf(0.6999, 10)).toBe(6);
    expect(binOf(1, 10)).toBe(9);
    expect(binOf(0, 10)).toBe(0);
  });

  it('is 0 where confidence comes true as often as it says, and puts a confidence of 1 in the last bin', () => {
    // Four samples at 0.75: three right. Two at exactly 1: both right.
    const probabilities = f32([0.75, 0.25], [0.75, 0.25], [0.75, 0.25], [0.75, 0.25], [1, 0], [0, 1]);
    const c = calibration([0, 0, 0, 1, 0, 1], probabilities, 2);
    expect(c.ece).toBeCloseTo(0, 6);
    expect(c.bins.map((b) => [b.from, b.count])).toEqual([[0.7, 4], [0.9, 2]]);
  });

  it('agrees with a direct recomputation on random softmax outputs, for several bin counts', () => {
    let seed = 7;
    const random = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const n = 400;
    const k = 5;
    const trueIndex = Array.from({ length: n }, () => Math.floor(random() * k));
    const probabilities = new Float32Array(n * k);
    for (let i = 0; i < n; i++) {
      const logits = Array.from({ length: k }, (_, c) => random() * 4 + (c === trueIndex[i] ? 1.5 : 0));
      const total = logits.reduce((s, v) => s + Math.exp(v), 0);
      logits.forEach((v, c) => (probabilities[i * k + c] = Math.exp(v) / total));
    }
    for (const bins of [1, 10, 15]) {
      const c = calibration(trueIndex, probabilities, k, bins);
      // Direct: sum over samples of |acc(bin) − conf(bin)| / n, each bin recomputed from its members.
      const rows = trueIndex.map((t, i) => {
        const row = Array.from(probabilities.subarray(i * k, (i + 1) * k));
        const top = row.indexOf(Math.max(...row));
        return { confidence: row[top]!, right: top === t };
      });
      let ece = 0;
      for (let b = 0; b < bins; b++) {
        const members = rows.filter((r) => binOf(r.confidence, bins) === b);
        if (!members.length) continue;
        const acc = members.filter((r) => r.right).length / members.length;
        const conf = members.reduce((s, r) => s + r.confidence, 0) / members.length;
        ece += (members.length / n) * Math.abs(acc - conf);
      }
      expect(c.ece).toBeCloseTo(ece, 9);
      expect(c.bins.reduce((s, b) => s + b.count, 0)).toBe(n);
    }
    expect(() => calibration(trueIndex, probabilities, k, 0)).toThrow(/bins must be an integer >= 1/);
  });
});

describe('isProbabilityMatrix', () => {
  it('accepts rows that sum to 1 within float32 rounding, and refuses logits, NaN and negatives', () => {
    expect(isProbabilityMatrix(SEVEN, 3)).toBe(true);
    expect(isProbabilityMatrix(f32([0.3333333, 0.3333333, 0.3333333]), 3)).toBe(true);
    // A float32 softmax can round a sure answer just past 1.
    expect(isProbabilityMatrix(new Float32Array([1.0000001, 0]), 2)).toBe(true);
    expect(isProbabilityMatrix(f32([1.01, -0.01]), 2)).toBe(false);
    expect(isProbabilityMatrix(f32([2.5, -1, 0.3]), 3)).toBe(false);
    expect(isProbabilityMatrix(f32([0.6, 0.6]), 2)).toBe(false);
    expect(isProbabilityMatrix(f32([Number.NaN, 1]), 2)).toBe(false);
    expect(isProbabilityMatrix(f32([0.5, 0.5, 1]), 2)).toBe(false);
  });
});

describe('evaluatePredictions: log-loss and calibration only for probabilities', () => {
  it('reports them for softmax outputs and leaves them out for logits', () => {
    const probabilities = evaluatePredictions({ labels: ['a', 'b', 'c'], trueIndex: [0, 1, 2, 2, 1, 0, 2], probabilities: SEVEN });
    expect(probabilities.logLoss).toBeCloseTo(0.6416916429544414, 6);
    expect(probabilities.calibration?.bins.reduce((s, b) => s + b.count, 0)).toBe(7);
    const logits = evaluatePredictions({ labels: ['a', 'b'], trueIndex: [0, 1], probabilities: f32([2.1, -0.3], [0.2, 1.7]) });
    expect(logits.accuracy).toBe(1);
    expect(logits).not.toHaveProperty('logLoss');
    expect(logits).not.toHaveProperty('calibration');
  });
});

describe('calibration: the error a calibrated model shows by chance', () => {
  /** n two-class predictions at confidences spread over [0.5, 1), each right with the probability it gives. */
  const calibratedDraw = (random: () => number, n: number): { trueIndex: number[]; probabilities: Float32Array } => {
    const probabilities = new Float32Array(n * 2);
    const trueIndex: number[] = [];
    for (let i = 0; i < n; i++) {
      const c = 0.5 + 0.5 * random();
      probabilities.set([c, 1 - c], i * 2);
      trueIndex.push(random() < c ? 0 : 1);
    }
    return { trueIndex, probabilities };
  };

  it('is exceeded by a calibrated model about 1 time in 20, is the same for the same predictions, and shrinks with more samples', () => {
    const random = mulberry32(11);
    let over = 0;
    const trials = 200;
    for (let t = 0; t < trials; t++) {
      const { trueIndex, probabilities } = calibratedDraw(random, 150);
      const c = calibration(trueIndex, probabilities, 2);
      if (c.ece > c.eceByChance) over++;
    }
    // 5% expected; 200 trials put 1-19 exceedances within reach and leave out a bound that is not the 95th percentile.
    expect(over / trials).toBeGreaterThan(0.005);
    expect(over / trials).toBeLessThan(0.1);
    const small = calibratedDraw(mulberry32(5), 150);
    const large = calibratedDraw(mulberry32(5), 5000);
    expect(calibration(small.trueIndex, small.probabilities, 2).eceByChance).toBe(calibration(small.trueIndex, small.probabilities, 2).eceByChance);
    const [a, b] = [calibration(small.trueIndex, small.probabilities, 2).eceByChance, calibration(large.trueIndex, large.probabilities, 2).eceByChance];
    expect(a).toBeGreaterThan(0.05);
    expect(b).toBeLessThan(a / 4); // ~1/√n: √(5000/150) ≈ 5.8
  });

  it('sees a model that is too sure as beyond chance', () => {
    // Says 0.95, right 70% of the time, on 300 samples.
    const random = mulberry32(3);
    const probabilities = new Float32Array(600);
    const trueIndex: number[] = [];
    for (let i = 0; i < 300; i++) {
      probabilities.set([0.95, 0.05], i * 2);
      trueIndex.push(random() < 0.7 ? 0 : 1);
    }
    const c = calibration(trueIndex, probabilities, 2);
    expect(c.ece).toBeGreaterThan(0.2);
    expect(c.eceByChance).toBeLessThan(0.05);
  });
});

describe('the calibration line', () => {
  it('prints the error and its chance line with the decimals that tell them apart', () => {
    expect(decimalsApart(0.00042, 0.00038, 4)).toBe(5);
    expect(decimalsApart(0.1234, 0.5, 4)).toBe(4);
    expect(decimalsApart(0.1, 0.1, 4)).toBe(4);
    expect(decimalsApart(0.1, 0.1 + 1e-7, 4)).toBe(7);
    // A near-perfect model (every image right at 0.9996): "0.0004, beyond chance: … stays under 0.0004" read as a
    // verdict that contradicts itself; the digits that decide it are printed.
    const n = 40;
    const trueIndex = Array.from({ length: n }, (_, i) => i % 2);
    const probabilities = new Float32Array(trueIndex.flatMap((t) => (t === 0 ? [0.9996, 0.0004] : [0.0004, 0.9996])));
    const report = evaluatePredictions({ labels: ['a', 'b'], trueIndex, probabilities, files: trueIndex.map((_, i) => `${i}.jpg`) });
    const line = formatReport(report).split('\n').find((l) => l.startsWith('Calibration error'))!;
    const [ece, byChance] = [/^Calibration error\s+([\d.]+)/.exec(line)![1]!, /(?:reaches|under) ([\d.]+) here/.exec(line)![1]!];
    // Every simulated calibrated model scores what this one does: equal, within chance (it said "beyond" on float noise).
    expect([ece, byChance]).toEqual(['0.0004', '0.0004']);
    expect(line).toContain('within chance');
    // Apart in the fifth decimal: printed to it, and the verdict follows the printed numbers.
    const near = { ...report, calibration: { ...report.calibration!, ece: 0.00042, eceByChance: 0.00038 } };
    expect(formatReport(near)).toContain('Calibration error  0.00042  (ECE over 10 bins, beyond chance: a calibrated model stays under 0.00038 here');
  });
});
