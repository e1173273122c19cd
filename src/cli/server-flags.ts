import type { Command } from 'commander';
import { checkToken, TOKEN_ENV } from '../serve/access/access-token.js';
import { isLoopbackAddress } from '../serve/access/host-check.js';
import { checkBasePath } from '../serve/base-path.js';

/** Flags `graft serve` and `graft ui` share about who may use the server, and where it is published. */
export interface AccessFlags {
  host: string;
  token?: string;
  allowedHost: string[];
  dataRoot: string[];
  basePath?: string;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** Adds --token, --allowed-host, --data-root (see SECURITY.md) and --base-path. */
export function addAccessOptions(command: Command, what: { dashboard: 'always' | 'with --train' }): Command {
  return command
    .option('--base-path <path>', 'the path a reverse proxy publishes the server under and passes on, e.g. /graft (paths without it still answer)')
    .option('--token <token>', `require this token (default: $${TOKEN_ENV}; the dashboard generates one when neither is set). Prefer the variable: arguments show in ps`)
    .option('--allowed-host <name>', 'a host name the server answers to besides localhost and IP addresses (repeat for several)', collect, [] as string[])
    .option('--data-root <dir>', `a folder the dashboard may create projects from${what.dashboard === 'always' ? '' : ' (with --train)'}; repeat for several. Without it, projects come from uploads only`, collect, [] as string[]);
}

/**
 * The token from --token, else from the environment, else undefined; checked here, so that a weak one is blamed on
 * where it came from.
 * @throws GraftError INVALID_CONFIG naming --token or the variable for a token too short or with other characters.
 */
export function tokenFrom(flags: AccessFlags): string | undefined {
  if (flags.token !== undefined) return checkToken(flags.token, '--token');
  const fromEnv = process.env[TOKEN_ENV] || undefined;
  return fromEnv === undefined ? undefined : checkToken(fromEnv, `$${TOKEN_ENV}`);
}

/** --base-path, checked here so that a bad one is blamed on the flag; undefined for none. */
export function basePathFrom(flags: AccessFlags): { basePath?: string } {
  const basePath = checkBasePath(flags.basePath, '--base-path');
  return basePath === undefined ? {} : { basePath };
}

/** The dashboard's link with its token: opening it sets the page's cookie (the token then leaves the URL). */
export function dashboardLink(url: string, token: string): string {
  return `${url}/dashboard/?token=${encodeURIComponent(token)}`;
}

/** What to warn the user of before a server is reachable from other machines (each printed after "warning: "). */
export function exposureWarnings(host: string, parts: { hasDashboard: boolean; isApiOpen: boolean; corsOrigins?: readonly string[] }): string[] {
  if (isLoopbackAddress(host)) return [];
  const warnings: string[] = [];
  if (parts.hasDashboard) {
    warnings.push(`the dashboard listens on ${host}, reachable from other machines. Anyone with its token can read the folders under --data-root and train on this machine, and plain HTTP lets the network see the token: put it behind HTTPS (SECURITY.md).`);
  }
  if (parts.isApiOpen) {
    warnings.push(`the prediction API on ${host} is open to anyone who can reach this machine; set --token or $${TOKEN_ENV} to require a token.`);
  }
  return warnings;
}
