/** Seconds to the millisecond, as timings are reported (`train_s`, `--json`'s `seconds`). */
export function roundSeconds(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}
