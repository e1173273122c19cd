import { isWithin } from '../core/is-within.js';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GraftError } from '../core/errors.js';

/**
 * One mirror rule: hub URLs starting with `prefix` are fetched from `target` instead, the rest of the URL appended.
 * Without a prefix the rule replaces the scheme and host of every http(s) URL (`https://github.com/onnx/models/x`
 * with target `http://mirror:8080` becomes `http://mirror:8080/onnx/models/x`).
 * `target` is a base URL, or a local directory (absolute path or `file://` URL) whose files are copied.
 */
export interface MirrorRule {
  readonly prefix?: string;
  readonly target: string;
}

/** Where to get a file: another URL, or a local file to copy. */
export type MirrorTarget = { readonly url: string } | { readonly path: string };

/**
 * Applies the mirror rules to a hub URL. Pure: no file system, no environment.
 *
 * The longest matching prefix wins; a prefix-less rule applies when no prefix matches; with no rule the URL is
 * returned unchanged. For a directory target the query string is dropped and the path is URL-decoded.
 *
 * @example
 * ```ts
 * applyMirror('https://github.com/onnx/models/raw/main/a.onnx', [{ prefix: 'https://github.com/onnx/models/raw/main/', target: '/srv/onnx' }]);
 * // { path: '/srv/onnx/a.onnx' }
 * applyMirror('https://tfhub.dev/google/m/1/model.json?tfjs-format=file', [{ target: 'http://127.0.0.1:8080/hub' }]);
 * // { url: 'http://127.0.0.1:8080/hub/google/m/1/model.json?tfjs-format=file' }
 * ```
 * @throws GraftError INVALID_CONFIG when a directory mirror would map the URL outside its directory.
 */
export function applyMirror(url: string, mirrors: readonly MirrorRule[]): MirrorTarget {
  const prefixed = mirrors
    .filter((rule): rule is MirrorRule & { prefix: string } => rule.prefix !== undefined && rule.prefix !== '' && url.startsWith(rule.prefix))
    .sort((a, b) => b.prefix.length - a.prefix.length)[0];
  let target: string;
  let rest: string;
  if (prefixed) {
    target = prefixed.target;
    rest = url.slice(prefixed.prefix.length);
  } else {
    const bare = mirrors.find((rule) => rule.prefix === undefined || rule.prefix === '');
    const origin = /^https?:\/\/[^/?#]+/i.exec(url)?.[0];
    if (!bare || !origin) return { url };
    target = bare.target;
    rest = url.slice(origin.length);
  }
  if (isUrlTarget(target)) return { url: joinUrl(target, rest) };
  const dir = target.startsWith('file:') ? fileURLToPath(target) : target;
  const relative = decodeURIComponent(rest.replace(/[?#].*$/, '')).replace(/^\/+/, '');
  const path = resolve(dir, relative);
  if (!isWithin(path, dir)) {
    throw new GraftError('INVALID_CONFIG', `Mirror directory ${dir} would serve ${url} from outside itself: ${path}`, {
      hint: 'mirror rules must map a URL prefix to a folder that holds the files below it',
    });
  }
  return { path };
}

/**
 * Parses GRAFT_HUB_MIRROR: `<prefix>=<replacement>[,<prefix>=<replacement>...]`, or a bare base URL / directory that
 * replaces the scheme and host of every hub URL. Relative directories resolve against `cwd`.
 * @example
 * ```ts
 * parseMirrorSpec('https://tfhub.dev/=http://10.0.0.5/tfhub/,/srv/models');
 * // [{ prefix: 'https://tfhub.dev/', target: 'http://10.0.0.5/tfhub/' }, { target: '/srv/models' }]
 * ```
 */
export function parseMirrorSpec(spec: string, cwd: string = process.cwd()): MirrorRule[] {
  return spec
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean)
    .map((item) => {
      const match = /^(https?:\/\/[^=]+)=(.+)$/i.exec(item);
      return match ? { prefix: match[1]!, target: normaliseTarget(match[2]!.trim(), cwd) } : { target: normaliseTarget(item, cwd) };
    });
}

/** Where the config file is: `$GRAFT_CONFIG`, else `$XDG_CONFIG_HOME/graft/config.json`, else `~/.config/graft/config.json`. */
export function configFilePath(env: Readonly<Record<string, string | undefined>>, home: string = homedir()): string {
  if (env['GRAFT_CONFIG']) return resolve(env['GRAFT_CONFIG']);
  const xdg = env['XDG_CONFIG_HOME'];
  return join(xdg && isAbsolute(xdg) ? xdg : join(home, '.config'), 'graft', 'config.json');
}

/**
 * Reads `{ "mirrors": { "<url prefix>": "<base URL or directory>" } }` from a config file (key `"*"` is the
 * prefix-less rule). A missing file means no mirrors; relative directories resolve against the file's folder.
 * @throws GraftError INVALID_CONFIG for a file that is not such JSON, naming the file.
 */
export function readMirrorConfig(file: string): MirrorRule[] {
  if (!existsSync(file)) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new GraftError('INVALID_CONFIG', `Config file ${file} is not valid JSON: ${(cause as Error).message}`, { cause, hint: 'fix or remove the file' });
  }
  const mirrors = (parsed as { mirrors?: unknown } | null)?.mirrors;
  if (mirrors === undefined) return [];
  if (typeof mirrors !== 'object' || mirrors === null || Array.isArray(mirrors) || !Object.values(mirrors).every((v) => typeof v === 'string')) {
    throw new GraftError('INVALID_CONFIG', `"mirrors" in ${file} must map URL prefixes to base URLs or directories. Received: ${JSON.stringify(mirrors)}`, {
      hint: 'e.g. { "mirrors": { "https://tfhub.dev/": "http://mirror.local/tfhub/", "*": "/srv/models" } }',
    });
  }
  return Object.entries(mirrors as Record<string, string>).map(([prefix, target]) => {
    const resolved = normaliseTarget(target, dirname(file));
    return prefix === '*' || prefix === '' ? { target: resolved } : { prefix, target: resolved };
  });
}

/**
 * The mirrors in effect: GRAFT_HUB_MIRROR's rules first (they win over the config file's for the same prefix),
 * then the config file's. The library reads no environment: the CLI calls this with its environment and passes the
 * rules as `mirrors`.
 */
export function mirrorsFromEnvironment(env: Readonly<Record<string, string | undefined>>): MirrorRule[] {
  const fromEnv = env['GRAFT_HUB_MIRROR'] ? parseMirrorSpec(env['GRAFT_HUB_MIRROR']) : [];
  const fromFile = readMirrorConfig(configFilePath(env));
  const seen = new Set(fromEnv.map((rule) => rule.prefix ?? ''));
  return [...fromEnv, ...fromFile.filter((rule) => !seen.has(rule.prefix ?? ''))];
}

function isUrlTarget(target: string): boolean {
  return /^https?:\/\//i.test(target);
}

function normaliseTarget(target: string, base: string): string {
  if (isUrlTarget(target) || target.startsWith('file:')) return target;
  return resolve(base, target);
}

function joinUrl(base: string, rest: string): string {
  if (rest === '' || rest.startsWith('?') || rest.startsWith('#')) return base + rest;
  return base.endsWith('/') || rest.startsWith('/') ? base.replace(/\/+$/, '') + '/' + rest.replace(/^\/+/, '') : `${base}/${rest}`;
}
