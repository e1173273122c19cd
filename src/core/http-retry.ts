/** HTTP statuses that say "not now" rather than "not here": the same request may succeed later. */
export const TRANSIENT_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

/** Retry-After in ms: delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(response: Response): number | undefined {
  const value = response.headers.get('retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** What a retry warning says: the failure, the wait, and which retry of how many. */
export function retryNotice(failure: string, waitMs: number, attempt: number, retries: number): string {
  return `${failure}; trying again in ${(waitMs / 1000).toFixed(waitMs < 1000 ? 1 : 0)} s (retry ${attempt} of ${retries})`;
}
