import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { GraftError } from '../../core/errors.js';

/** Environment variable read for the token when no `--token` is given (keeps it out of `ps` and shell history). */
export const TOKEN_ENV = 'GRAFT_TOKEN';

/** Shortest token accepted from a user: 16 characters (a generated one has 43, 256 bits). */
const MIN_TOKEN_LENGTH = 16;

/** A new random token: 32 bytes from the OS's CSPRNG, base64url (43 characters, safe in URLs and headers). */
export function generateToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Checks a token given by the user (`--token` or GRAFT_TOKEN): long enough to resist guessing over the network,
 * and made of characters that survive URLs, headers and cookies unchanged.
 * @throws GraftError `INVALID_CONFIG` otherwise.
 */
export function checkToken(token: string, where: string): string {
  if (token.length < MIN_TOKEN_LENGTH || !/^[A-Za-z0-9._~-]+$/.test(token)) {
    throw new GraftError('INVALID_CONFIG', `The token from ${where} must be at least ${MIN_TOKEN_LENGTH} characters of A-Z a-z 0-9 . _ ~ - (received ${token.length} characters).`, {
      hint: `leave it out to have one generated, or make one with: node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))"`,
    });
  }
  return token;
}

/**
 * The secret a server checks. Requests carry it as `Authorization: Bearer <token>`, or, from the page, as an
 * HttpOnly cookie holding an HMAC of it (so the browser's cookie store never holds the token itself).
 */
export class AccessToken {
  readonly value: string;
  readonly cookieValue: string;

  constructor(value: string) {
    this.value = value;
    this.cookieValue = createHmac('sha256', value).update('graft-session-cookie-v1').digest('base64url');
  }

  /** Constant-time comparison, so response times do not leak how much of a guess was right. */
  matches(candidate: string | undefined): boolean {
    return candidate !== undefined && equalSecret(candidate, this.value);
  }

  matchesCookie(candidate: string | undefined): boolean {
    return candidate !== undefined && equalSecret(candidate, this.cookieValue);
  }
}

function equalSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
