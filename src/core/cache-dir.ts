import { homedir } from 'node:os';
import path from 'node:path';

/** What {@link defaultCacheDir} reads. `platform` and `homeDir` default to the running process's. */
export interface CacheDirEnvironment {
  /** Environment variables to honour (GRAFT_CACHE_DIR, XDG_CACHE_HOME, LOCALAPPDATA). Defaults to none: library code reads no environment; the CLI passes its own. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly platform?: NodeJS.Platform;
  readonly homeDir?: string;
}

/**
 * The folder Graft caches into when the caller names none.
 *
 * `GRAFT_CACHE_DIR` wins (resolved against the working directory). Otherwise the platform's user cache folder:
 * `$XDG_CACHE_HOME/graft` or `~/.cache/graft` on Linux and other Unixes, `~/Library/Caches/graft` on macOS,
 * `%LOCALAPPDATA%\graft\cache` on Windows. `XDG_CACHE_HOME` is ignored when empty or relative, as the XDG spec says.
 *
 * @param environment - defaults to no variables, `process.platform` and `os.homedir()`.
 * @example
 * ```ts
 * defaultCacheDir({ env: {}, platform: 'linux', homeDir: '/home/ada' }); // '/home/ada/.cache/graft'
 * defaultCacheDir({ env: { GRAFT_CACHE_DIR: '/data/graft' } });          // '/data/graft'
 * ```
 */
export function defaultCacheDir(environment: CacheDirEnvironment = {}): string {
  const env = environment.env ?? {};
  const platform = environment.platform ?? process.platform;
  const paths = platform === 'win32' ? path.win32 : path.posix;
  const explicit = env['GRAFT_CACHE_DIR'];
  if (explicit) return paths.resolve(explicit);
  const home = environment.homeDir ?? homedir();
  switch (platform) {
    case 'win32': {
      const localAppData = env['LOCALAPPDATA'] || paths.join(home, 'AppData', 'Local');
      return paths.join(localAppData, 'graft', 'cache');
    }
    case 'darwin':
      return paths.join(home, 'Library', 'Caches', 'graft');
    default: {
      const xdg = env['XDG_CACHE_HOME'];
      return xdg && paths.isAbsolute(xdg) ? paths.join(xdg, 'graft') : paths.join(home, '.cache', 'graft');
    }
  }
}
