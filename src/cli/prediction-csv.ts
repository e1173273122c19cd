/**
 * `graft predict --csv`: one row per image, in the order given. The first two columns are named as a manifest's
 * (`path`, `label`), so the file, written where predict ran, is also a manifest that `graft train` and `graft inspect`
 * read: predictions checked in a spreadsheet, corrected, and trained on.
 */

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
  const lines = [header, ...rows.map((row) => [row.file, ...Array.from({ length: top }, (_, i) => row.predictions[i]).flatMap((p) => (p ? [p.label, p.probability.toFixed(6)] : ['', ''])), row.error ?? ''])];
  return lines.map((fields) => `${fields.map(csvField).join(',')}\r\n`).join('');
}

/** A field as CSV writes it: quoted, quotes doubled, where it holds a comma, a quote, a line end or edge spaces. */
export function csvField(value: string): string {
  return /[",\r\n]|^\s|\s$/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}
