import { isReallyWithin, isWithin } from '../../core/is-within.js';
import { realpathSync } from 'node:fs';
import { readdir, readlink, realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { GraftError } from '../../core/errors.js';
import { isClutter } from '../../data/scan-folder.js';
import { ServeError } from '../serve-error.js';

/** One folder a project may come from, as the API shows it: the root's name and its sub-folders. */
export interface DataRootListing {
  readonly root: string;
  readonly folders: readonly string[];
}

/** Most sub-folders listed per root (the page offers them as choices). */
const MAX_LISTED = 500;

/**
 * The folders on the server that dashboard projects may read (`--data-root`, given when the server starts).
 * A client names a folder inside one of them; nothing outside is ever opened, and the refusal for a folder
 * outside reads the same whether or not it exists, so the API cannot be used to probe the server's disk.
 */
export class DataRoots {
  /** Real paths (symbolic links resolved) of the roots. */
  readonly roots: readonly string[];

  /** @throws GraftError `INVALID_CONFIG` when a root is not an existing folder (checked at start, not per request). */
  constructor(roots: readonly string[]) {
    this.roots = roots.map((root) => {
      try {
        return realpathSync(resolve(root));
      } catch (cause) {
        throw new GraftError('INVALID_CONFIG', `--data-root ${root} is not an existing folder.`, { cause, hint: 'give folders that hold your datasets' });
      }
    });
  }

  get isEmpty(): boolean {
    return this.roots.length === 0;
  }

  /** Whether `path` (absolute) is one of the roots or inside one, after resolving symbolic links. */
  contains(path: string): Promise<boolean> {
    return isReallyWithin(path, this.roots);
  }

  /**
   * The folder a client asked for: an absolute path inside a root, or a path relative to the first root.
   * @throws ServeError `FORBIDDEN` when there are no roots or the folder is outside them (same message whether it
   *   exists or not); GraftError `INVALID_DATASET` when, inside a root, there is no such folder.
   */
  async resolveFolder(requested: string): Promise<string> {
    if (this.isEmpty) {
      throw new ServeError('FORBIDDEN', 'This server takes projects from uploads only: it was started without --data-root.', {
        hint: 'create the project without a folder and upload images, or restart the server with --data-root <dir>',
      });
    }
    const outside = new ServeError('FORBIDDEN', `The folder ${JSON.stringify(requested)} is not inside a data root of this server.`, {
      hint: 'GET /v1/data-roots lists the folders projects may come from',
    });
    const candidate = isAbsolute(requested) ? resolve(requested) : resolve(this.roots[0]!, requested);
    // The path as written must lie in a root before the disk is touched at all; then its real path must too.
    if (!this.roots.some((root) => isWithin(candidate, root))) throw outside;
    // A path that does not exist is judged by its nearest existing folder: through a link that leads out of the roots
    // it is outside, exist or not, so the answer (403) does not tell whether a folder out there exists.
    const real = await realpath(candidate).catch(() => undefined);
    const reached = real ?? (await realNearestAncestor(candidate));
    if (!this.roots.some((root) => isWithin(reached, root))) throw outside;
    if (real === undefined || !(await stat(real)).isDirectory()) {
      throw new GraftError('INVALID_DATASET', `There is no folder ${JSON.stringify(requested)} in the data roots.`, { hint: 'GET /v1/data-roots lists them' });
    }
    return real;
  }

  /** Each root with its sub-folders (not hidden ones or tools' clutter), for the page to offer. */
  async list(): Promise<DataRootListing[]> {
    return Promise.all(
      this.roots.map(async (root) => {
        const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
        const candidates = entries.filter((e) => !isClutter(e.name) && (e.isDirectory() || e.isSymbolicLink())).map((e) => join(root, e.name));
        // A link that leads out of the roots is not offered: a project could not be made on it.
        const inside = await Promise.all(candidates.map((folder) => this.contains(folder)));
        const folders = candidates.filter((_, i) => inside[i]);
        return { root, folders: folders.sort().slice(0, MAX_LISTED) };
      }),
    );
  }
}

/**
 * Where `path` leads as far as it exists: the real path of its nearest existing ancestor, a link that leads nowhere
 * followed by what it says (a dangling link to /nonexistent is outside the roots, as one to /etc is, so the answer
 * does not tell which exists). At most 40 links are followed, as the kernel's ELOOP limit.
 */
async function realNearestAncestor(path: string, links = 0): Promise<string> {
  for (let at = path; ; at = dirname(at)) {
    const target = links < 40 ? await readlink(at).catch(() => undefined) : undefined;
    if (target !== undefined) {
      const parent = await realpath(dirname(at)).catch(() => dirname(at));
      return realNearestAncestor(join(resolve(parent, target), relative(at, path)), links + 1);
    }
    const real = await realpath(at).catch(() => undefined);
    if (real !== undefined || at === dirname(at)) return real ?? at;
  }
}

