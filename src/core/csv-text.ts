/** CSV as RFC 4180 writes it, for the files Graft writes (predictions, scores, downloaded manifests). */

/** Rows of fields as CSV text, each line ended by `\r\n`. */
export function csvText(rows: readonly (readonly string[])[]): string {
  return rows.map((fields) => `${fields.map(csvField).join(',')}\r\n`).join('');
}

/** A field as CSV writes it: quoted, quotes doubled, where it holds a comma, a quote, a line end or edge spaces. */
export function csvField(value: string): string {
  return /[",\r\n]|^\s|\s$/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}
