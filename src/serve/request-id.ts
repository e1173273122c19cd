import { randomUUID } from 'node:crypto';

/** The header a request id comes in and goes back in (what nginx, Envoy and most load balancers use). */
export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * An incoming id is kept when it is 1 to 128 of letters, digits and `_.:/+=@-` (UUIDs, ULIDs, base64, trace ids);
 * anything else (a newline, a space, a kilobyte) goes into every log line and error body, so it is replaced.
 */
const SAFE_REQUEST_ID = /^[\w.:/+=@-]{1,128}$/;

/** The id of a request: the client's X-Request-Id when it is safe to repeat, else a new UUID. */
export function requestIdFor(header: string | readonly string[] | undefined): string {
  return typeof header === 'string' && SAFE_REQUEST_ID.test(header) ? header : randomUUID();
}
