import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ServeError } from '../serve-error.js';
import type { AccessToken } from './access-token.js';
import { isAllowedHost } from './host-check.js';
import { relativeLocation } from '../relative-location.js';

/** Who may use a server, and from where (see SECURITY.md). */
export interface AccessOptions {
  /** The token requests to protected paths must carry. Undefined: no path needs one. */
  readonly token?: AccessToken;
  /**
   * Which paths need the token. Defaults to every path but /healthz and /readyz. A request needs it when any form
   * of its path does: as sent, percent-decoded, or the pattern of the route it matched.
   */
  readonly isProtected?: (path: string) => boolean;
  /** Host names accepted besides localhost, *.localhost and IP literals (`--allowed-host`). */
  readonly allowedHosts?: readonly string[];
  /**
   * Other origins allowed to send state-changing requests to the paths `isCorsPath` accepts (`--cors`); the server's own
   * is always allowed. Undefined for a server that takes no `--cors` (`graft ui`).
   */
  readonly corsOrigins?: readonly string[];
  /** The paths other origins may be allowed on: the prediction API's, never the dashboard's. Defaults to every path. */
  readonly isCorsPath?: (path: string) => boolean;
}

/** Header a page sends with every state-changing request; a cross-site form or "simple" request cannot set it. */
export const REQUEST_HEADER = 'x-graft-request';

const PROBE_PATHS = new Set(['/healthz', '/readyz']);

/**
 * Liveness and readiness: open whatever the token (a load balancer has none), and left out of the access log by default
 * (Kubernetes probes them every few seconds).
 */
export function isProbePath(path: string): boolean {
  return PROBE_PATHS.has(path);
}
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Checks every request, before routing work, in this order:
 * 1. Host: a name a DNS-rebinding page cannot send (see isAllowedHost); else 403.
 * 2. A page link's `?token=`: a right one sets an HttpOnly, SameSite=Strict cookie and redirects to the same
 *    URL without it (so the token leaves the address bar and history); a wrong one is 401.
 * 3. The token, on protected paths: `Authorization: Bearer <token>` or the cookie; else 401.
 * 4. For state-changing methods: a request from another site's page (by its `Sec-Fetch-Site`, else its `Origin`,
 *    see isFromOwnPage) is 403 unless allowed with --cors (on the prediction API's paths only); a request
 *    authenticated by the cookie must also carry the `X-Graft-Request` header.
 * Every response also gets headers that keep the pages out of frames and the token out of Referer.
 */
export function registerAccessControl(app: FastifyInstance, options: AccessOptions): void {
  const allowedHosts = options.allowedHosts ?? [];
  const corsOrigins = new Set(options.corsOrigins ?? []);
  const isCorsPath = options.isCorsPath ?? (() => true);
  const isProtected = options.isProtected ?? ((path: string) => !isProbePath(path));
  const token = options.token;

  app.addHook('onRequest', async (request, reply) => {
    const host = request.headers.host;
    // A refused request's connection closes with the answer: its body (up to the upload limit, sent at any pace)
    // is not read, and the socket is not kept for a client that has no business here.
    const refuse = (error: ServeError): never => {
      void reply.header('connection', 'close');
      throw error;
    };
    if (host === undefined) {
      refuse(new ServeError('BAD_REQUEST', 'The request has no Host header, which HTTP/1.1 requires.', { hint: 'send the Host header (every HTTP client does)' }));
    }
    if (!isAllowedHost(host, allowedHosts)) {
      refuse(new ServeError('FORBIDDEN', `This server does not answer to the host name ${JSON.stringify(host ?? '')}.`, {
        hint: 'open it as localhost or by its IP address, or start it with --allowed-host <name>',
      }));
    }
    if (request.method === 'OPTIONS') return; // a CORS preflight carries no credentials; @fastify/cors answers it
    const url = new URL(request.url, 'http://server');
    const isSafe = SAFE_METHODS.has(request.method);
    let authenticatedBy: 'header' | 'cookie' | undefined;
    if (token) {
      const linkToken = url.searchParams.get('token');
      if (linkToken !== null && isSafe) {
        if (!token.matches(linkToken)) {
          refuse(new ServeError('UNAUTHORIZED', 'The token in this link is not the server\'s.', { hint: 'open the URL the server printed when it started' }));
        }
        url.searchParams.delete('token');
        reply.setCookie(cookieName(request), token.cookieValue, { httpOnly: true, sameSite: 'strict', path: '/' });
        // Relative, so that behind a proxy that publishes the server under a path the browser stays under it.
        return reply.redirect(`${relativeLocation(url.pathname, url.pathname)}${url.search}`, 303);
      }
      authenticatedBy = token.matches(bearer(request)) ? 'header' : token.matchesCookie(request.cookies[cookieName(request)]) ? 'cookie' : undefined;
      if (!authenticatedBy && pathsOf(request, url).some(isProtected)) {
        refuse(new ServeError('UNAUTHORIZED', 'This server needs its access token.', {
          hint: 'send the header "Authorization: Bearer <token>", or open a page once with ?token=<token> added to its URL (a cookie then keeps it)',
        }));
      }
    }
    if (isSafe) return;
    const origin = request.headers.origin;
    const site = request.headers['sec-fetch-site'];
    // Every form of the path must be one --cors opens (an encoded letter must not turn a dashboard path into one);
    // worked out only for a request from another site.
    const mayAllow = (): boolean => options.corsOrigins !== undefined && pathsOf(request, url).every(isCorsPath);
    if (!isFromOwnPage(origin, site, host) && !(origin && corsOrigins.has(origin) && mayAllow())) {
      // Refused without Sec-Fetch-Site, the Origin was not this Host: the Host may be a proxy's own.
      const proxied = site === undefined;
      refuse(new ServeError('FORBIDDEN', `A ${request.method} request from another site (Origin ${origin ?? 'not sent'}, Sec-Fetch-Site ${site === undefined ? 'not sent' : String(site)}) is refused.`, {
        hint: `call the API from the server's own pages${mayAllow() ? ', from a script without a browser, or allow the site with --cors <origin>' : ' or from a script without a browser'}${
          proxied ? `; if a reverse proxy serves this page, it must pass the browser's Host on (nginx: proxy_set_header Host $http_host), which this request's (${host ?? ''}) is not` : ''
        }`,
      }));
    }
    if (authenticatedBy === 'cookie' && request.headers[REQUEST_HEADER] === undefined) {
      refuse(new ServeError('FORBIDDEN', `A ${request.method} request authenticated by the page's cookie must carry the header X-Graft-Request.`, {
        hint: 'scripts send "Authorization: Bearer <token>" instead; the dashboard page sends the header itself',
      }));
    }
  });

  app.addHook('onSend', async (_request, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'no-referrer');
  });
}

/**
 * Whether a state-changing request comes from a page of this server or from no page at all, the rule Go's
 * `http.CrossOriginProtection` applies. A browser's Sec-Fetch-Site is its own finding, which no page can set:
 * `same-origin` (or `none`, the user's own action) stands even where the Origin is not the Host this server was sent,
 * as behind a reverse proxy that passes on a Host of its own (nginx's default). Without it (a browser before 2023,
 * a script) the Origin, when sent, must be this Host.
 */
function isFromOwnPage(origin: string | undefined, site: string | string[] | undefined, host: string | undefined): boolean {
  if (site !== undefined) return site === 'same-origin' || site === 'none';
  return origin === undefined || origin === `http://${host}` || origin === `https://${host}`;
}

/**
 * Every form of the request's path that may decide whether it is protected: the route it matched, the path as
 * routing decodes it, and as sent. Routing decodes `%70rojects` to `projects`, so the raw path alone would let an
 * encoded letter past a prefix rule; a path that does not decode is kept raw (routing refuses it anyway).
 */
function pathsOf(request: FastifyRequest, url: URL): string[] {
  const paths = [url.pathname];
  try {
    paths.push(decodeURIComponent(url.pathname));
  } catch {
    // not percent-decodable: the raw path stands
  }
  const route = request.routeOptions.url;
  if (route !== undefined) paths.push(route);
  return paths;
}

/** Cookies are not separated by port, so two servers on one host each get their own name. */
function cookieName(request: FastifyRequest): string {
  return `graft-token-${request.socket.localPort ?? 0}`;
}

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  return match?.[1];
}
