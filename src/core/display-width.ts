const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
/** East Asian wide and fullwidth characters, and emoji: two columns in a terminal. */
const WIDE = /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{20000}-\u{3fffd}]|\p{Extended_Pictographic}/u;

/**
 * How many terminal columns a string takes: one per character as seen (a letter and its combining accent, as a
 * folder copied from macOS names "café", are one), two for a wide one. `String.length` counts UTF-16 units, which
 * misaligned tables holding such names.
 */
export function displayWidth(text: string): number {
  let width = 0;
  for (const { segment } of graphemes.segment(text)) width += WIDE.test(segment) ? 2 : 1;
  return width;
}

/** `text` padded with spaces at the end to `width` columns (as `padEnd`, by display width). */
export function padEndDisplay(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - displayWidth(text)));
}

/** `text` padded with spaces at the start to `width` columns. */
export function padStartDisplay(text: string, width: number): string {
  return ' '.repeat(Math.max(0, width - displayWidth(text))) + text;
}

/** `text` cut to at most `width` columns, whole characters only, ending in `mark` when cut. */
export function truncateDisplay(text: string, width: number, mark = '~'): string {
  if (displayWidth(text) <= width) return text;
  let out = '';
  let used = displayWidth(mark);
  for (const { segment } of graphemes.segment(text)) {
    const w = WIDE.test(segment) ? 2 : 1;
    if (used + w > width) break;
    out += segment;
    used += w;
  }
  return out + mark;
}
