/**
 * The CSV that `graft predict --csv` and `graft eval --csv` print: a row per image. The first two columns are named as
 * a manifest's (`path`, `label`), so a file written where the command ran is also a manifest that `graft train` and
 * `graft inspect` read: predictions checked in a spreadsheet, corrected, and trained on.
 */

import { csvText } from '../core/csv-text.js';
import type { ScoredImage } from '../model/evaluate-model.js';

/** A row of predict's output: its predictions, most probable first, or why the image could not be classified. */
export interface PredictionRow {
  readonly file: string;
  readonly predictions: readonly { readonly label: string; readonly probability: number }[];
  readonly error?: string;
}

/**
 * The CSV text (RFC 4180, `\r\n` line ends as the RFC and spreadsheets expect): `path,label,probability`, then
 * `label_2,probability_2` ... up to `top`, then `error`. An unreadable image has empty label columns and its reason.
 */
export function predictionCsv(rows: readonly PredictionRow[], top: number): string {
  const header = ['path', 'label', 'probability'];
  for (let rank = 2; rank <= top; rank++) header.push(`label_${rank}`, `probability_${rank}`);
  header.push('error');
  return csvText([header, ...rows.map((row) => [row.file, ...Array.from({ length: top }, (_, i) => row.predictions[i]).flatMap((p) => (p ? [p.label, p.probability.toFixed(6)] : ['', ''])), row.error ?? ''])]);
}

/**
 * `graft eval --csv`: `path,label,predicted,probability,label_probability,correct,error`, a row per image in the
 * dataset's order, for sorting and filtering mistakes in a spreadsheet. `path,label` are the dataset's own, so the
 * file is a manifest of the same images (written where eval ran).
 */
export function evaluationCsv(rows: readonly ScoredImage[]): string {
  const header = ['path', 'label', 'predicted', 'probability', 'label_probability', 'correct', 'error'];
  const lines = [
    header,
    ...rows.map((r) =>
      r.predicted === undefined
        ? [r.file, r.label, '', '', '', '', r.error ?? '']
        : [r.file, r.label, r.predicted, r.probability!.toFixed(6), r.labelProbability!.toFixed(6), String(r.predicted === r.label), ''],
    ),
  ];
  return csvText(lines);
}
