import { decimalsApart, isBeyondChance } from './calibration.js';
import { isAbsentClass, type EvaluationReport } from './classification.js';
import { displayWidth, padEndDisplay, padStartDisplay, truncateDisplay } from '../core/display-width.js';

/** Options of {@link formatReport}. */
export interface FormatReportOptions {
  /** How many misclassified samples to list (most confident first). Defaults to 10. */
  readonly maxMisclassified?: number;
}

const LABEL_WIDTH = 10;
/** Past this many classes the text report lists the most confused pairs instead of printing the matrix. */
const MAX_MATRIX_CLASSES = 12;
const MAX_CONFUSED_PAIRS = 10;

/**
 * Renders an evaluation report as a plain-text table for terminals: the summary lines, a per-class table,
 * the confusion matrix (labels cut to 10 characters; up to 12 classes, wider ones would wrap), the most confused
 * pairs of classes and the most confident mistakes. Pure: returns the text, prints nothing.
 *
 * @example
 * ```ts
 * console.log(formatReport(evaluatePredictions({
 *   labels: ['ants', 'bees'],
 *   trueIndex: [0, 1, 1],
 *   probabilities: new Float32Array([0.9, 0.1, 0.3, 0.7, 0.8, 0.2]),
 *   files: ['a.jpg', 'b.jpg', 'c.jpg'],
 * })));
 * // Accuracy           0.6667  (2 of 3; 95% interval 0.2077-0.9385)
 * // Balanced accuracy  0.7500  (mean recall over classes)
 * // Macro F1           0.6667
 * // Log-loss           0.6905
 * // Calibration error  0.4000  (ECE over 10 bins, within chance: a calibrated model reaches 0.6000 here 1 time in 20; mean confidence 0.8000 against accuracy 0.6667)
 * //
 * // class  precision  recall      f1  support
 * // ants      0.5000  1.0000  0.6667        1
 * // ...
 * ```
 */
export function formatReport(report: EvaluationReport, options: FormatReportOptions = {}): string {
  const maxMisclassified = options.maxMisclassified ?? 10;
  const lines: string[] = [];
  const correct = report.count - report.misclassified.length;
  const interval = report.accuracyInterval;
  const summary: [string, string][] = [['Accuracy', `${fixed(report.accuracy)}  (${correct} of ${report.count}; ${percentOf(interval.level)} interval ${fixed(interval.low)}-${fixed(interval.high)})`]];
  if (fixed(report.balancedAccuracy) !== fixed(report.accuracy)) summary.push(['Balanced accuracy', `${fixed(report.balancedAccuracy)}  (mean recall over classes)`]);
  if (report.top5 !== undefined) summary.push(['Top-5', fixed(report.top5)]);
  summary.push(['Macro F1', fixed(report.macroF1)]);
  if (report.logLoss !== undefined) summary.push(['Log-loss', fixed(report.logLoss)]);
  const cal = report.calibration;
  if (cal) {
    // A small test set cannot show a small miscalibration: said against what a calibrated model reaches on these images.
    const digits = decimalsApart(cal.ece, cal.eceByChance, 4);
    const [ece, byChance] = [cal.ece.toFixed(digits), cal.eceByChance.toFixed(digits)];
    const chance = isBeyondChance(cal) ? `beyond chance: a calibrated model stays under ${byChance} here 19 times in 20` : `within chance: a calibrated model reaches ${byChance} here 1 time in 20`;
    summary.push(['Calibration error', `${ece}  (ECE over 10 bins, ${chance}; mean confidence ${fixed(cal.confidence)} against accuracy ${fixed(report.accuracy)})`]);
  }
  const nameWidth = Math.max(...summary.map(([name]) => name.length));
  lines.push(...summary.map(([name, value]) => `${name.padEnd(nameWidth)}  ${value}`));

  lines.push('');
  const labels = report.confusion.labels;
  lines.push(
    ...table(
      ['class', 'precision', 'recall', 'f1', 'support'],
      labels.map((label, c) => {
        const s = report.perClass[label];
        if (s && isAbsentClass(report.confusion.matrix, c)) return [label, '-', '-', '-', '0'];
        return s ? [label, fixed(s.precision), fixed(s.recall), fixed(s.f1), String(s.support)] : [label, '', '', '', ''];
      }),
    ),
  );
  const absent = labels.filter((_, c) => isAbsentClass(report.confusion.matrix, c)).length;
  if (absent > 0) lines.push(`(-: no image of ${absent === 1 ? 'this class' : 'these classes'} here, and none predicted as ${absent === 1 ? 'it' : 'them'}; left out of macro F1)`);

  if (labels.length <= MAX_MATRIX_CLASSES) {
    lines.push('', 'Confusion matrix (rows = true class, columns = predicted)');
    // Columns are named by class, cut short; where two cut names would read alike, by number, each row saying its class.
    const short = labels.map(truncate);
    const numbered = new Set(short).size < short.length;
    const columns = numbered ? labels.map((_, i) => `#${i + 1}`) : short;
    const rows = numbered ? labels.map((label, i) => `#${i + 1} ${label}`) : short;
    lines.push(...table(['true \\ pred', ...columns], report.confusion.matrix.map((row, t) => [rows[t]!, ...row.map(String)])));
  } else {
    // A matrix of more columns than a terminal is wide wraps into noise; the pairs below are what it is read for.
    lines.push('', `Confusion matrix: ${labels.length} x ${labels.length}, too wide to print (in --json as confusion, and in graft report)`);
  }

  const pairs = report.mostConfused;
  if (pairs.length > 0 && labels.length > 2) {
    const shown = pairs.slice(0, MAX_CONFUSED_PAIRS);
    lines.push('', shown.length < pairs.length ? `Most confused (the ${shown.length} largest of ${pairs.length} pairs)` : 'Most confused');
    lines.push(...table(['count', 'true', 'predicted'], shown.map((pair) => [String(pair.count), pair.true, pair.predicted]), [1, 2]).map((line) => `  ${line}`));
  }

  const wrong = report.misclassified;
  if (wrong.length > 0) {
    const shown = wrong.slice(0, Math.max(0, maxMisclassified));
    const heading =
      shown.length < wrong.length
        ? `Misclassified: ${wrong.length}, the ${shown.length} most confident`
        : `Misclassified: ${wrong.length}, most confident first`;
    lines.push('', heading);
    if (shown.length > 0) {
      lines.push(
        ...table(
          ['confidence', 'true', 'predicted', 'file'],
          shown.map((m) => [fixed(m.confidence), m.true, m.predicted, m.file ?? `#${m.index}`]),
          [1, 2, 3],
        ).map((line) => `  ${line}`),
      );
    }
  } else {
    lines.push('', 'Misclassified: none');
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Pads cells into aligned columns two spaces apart. Text columns (`textColumns`, default only the first) are
 * left-aligned, number columns right-aligned.
 */
function table(header: readonly string[], rows: readonly (readonly string[])[], textColumns: readonly number[] = [0]): string[] {
  const widths = header.map((h, c) => Math.max(displayWidth(h), ...rows.map((r) => displayWidth(r[c] ?? ''))));
  const render = (cells: readonly string[]): string =>
    cells
      .map((cell, c) => (textColumns.includes(c) ? padEndDisplay(cell, widths[c]!) : padStartDisplay(cell, widths[c]!)))
      .join('  ')
      .trimEnd();
  return [render(header), ...rows.map(render)];
}

function truncate(label: string): string {
  return truncateDisplay(label, LABEL_WIDTH);
}

function fixed(value: number): string {
  return value.toFixed(4);
}

function percentOf(level: number): string {
  return `${Math.round(level * 100)}%`;
}
