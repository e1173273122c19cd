import { defaultCacheDir } from '../core/cache-dir.js';
import { mirrorsFromEnvironment, type MirrorRule } from '../hub/mirror.js';
import { modelDirsFromEnv } from '../hub/resolve-backbone.js';

/**
 * Where the CLI reads the environment variables every command shares: the library takes every setting as an option,
 * and the CLI turns GRAFT_CACHE_DIR (and the platform's cache variables), GRAFT_MODELS_DIR, GRAFT_HUB_MIRROR and
 * GRAFT_CONFIG into those options here. A variable one command uses is read by that command (ARCHITECTURE.md).
 */

/** `--cache-dir`, else GRAFT_CACHE_DIR, else the platform's user cache folder. */
export function cacheDirFrom(flag: string | undefined): string {
  return flag ?? defaultCacheDir({ env: process.env });
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
