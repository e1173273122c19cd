import { statSync } from 'node:fs';
import { GraftError } from '../core/errors.js';
import { defaultCacheDir } from '../core/cache-dir.js';
import { mirrorsFromEnvironment, type MirrorRule } from '../hub/mirror.js';
import { modelDirsFromEnv } from '../hub/resolve-backbone.js';

/**
 * Where the CLI reads the environment variables every command shares: the library takes every setting as an option,
 * and the CLI turns GRAFT_CACHE_DIR (and the platform's cache variables), GRAFT_MODELS_DIR, GRAFT_HUB_MIRROR and
 * GRAFT_CONFIG into those options here. A variable one command uses is read by that command (ARCHITECTURE.md).
 */

/**
 * `--cache-dir`, else GRAFT_CACHE_DIR, else the platform's user cache folder.
 * @throws GraftError INVALID_CONFIG when it names a file (it failed later as a cache error, "EEXIST … mkdir").
 */
export function cacheDirFrom(flag: string | undefined): string {
  const dir = flag ?? defaultCacheDir({ env: process.env });
  if (statSync(dir, { throwIfNoEntry: false })?.isDirectory() === false) {
    const named = flag !== undefined ? '--cache-dir' : process.env['GRAFT_CACHE_DIR'] !== undefined ? 'GRAFT_CACHE_DIR' : 'The cache folder';
    throw new GraftError('INVALID_CONFIG', `${named} ${dir} is a file; the cache is a folder`, { hint: 'name a folder (new or an earlier cache) with --cache-dir or GRAFT_CACHE_DIR' });
  }
  return dir;
}

/** GRAFT_MODELS_DIR's folders, searched for catalogue files before downloading. */
export function modelDirsFromEnvironment(): string[] {
  return modelDirsFromEnv(process.env);
}

/** GRAFT_HUB_MIRROR's rules, then the config file's (GRAFT_CONFIG or ~/.config/graft/config.json). */
export function hubMirrors(): MirrorRule[] {
  return mirrorsFromEnvironment(process.env);
}

/** Where backbones are searched and fetched from, as every backbone-resolving option object takes it. */
export function backboneSearch(): { readonly modelDirs: string[]; readonly mirrors: MirrorRule[] } {
  return { modelDirs: modelDirsFromEnvironment(), mirrors: hubMirrors() };
}
