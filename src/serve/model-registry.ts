import { unwatchFile, watchFile, type Stats } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { GraftError } from '../core/errors.js';
import { MANIFEST_FILE, ONNX_FILE } from '../model/manifest.js';
import { ModelVersion, type ModelVersionOptions } from './model-version.js';
import { loadSettledVersion } from './settled-model-load.js';

/** What the registry reports while serving: reloads and failed reloads (the old version keeps serving). */
export type ModelRegistryEvent =
  | { type: 'reload'; model: string; labels: readonly string[] }
  | { type: 'reload-failed'; model: string; message: string };

export interface ModelRegistryOptions extends Omit<ModelVersionOptions, 'onBatch'> {
  /** Model directories to serve. */
  readonly models: readonly string[];
  /** Name per directory (as given or resolved); default: the directory's basename. */
  readonly names?: Readonly<Record<string, string>>;
  /** Watch graft.json and model.onnx and reload on change. Defaults to true. */
  readonly watch?: boolean;
  /** How often the files' mtimes are polled. Defaults to 1000 ms. */
  readonly reloadPollMs?: number;
  readonly onEvent?: (event: ModelRegistryEvent) => void;
  readonly onReload?: (model: string, isOk: boolean) => void;
  /** After each onnxruntime run of a model. */
  readonly onBatch?: (model: string, size: number, seconds: number) => void;
}

interface ServedModel {
  readonly name: string;
  readonly dir: string;
  current: ModelVersion;
  reloadTimer: NodeJS.Timeout | undefined;
  reloading: Promise<void> | undefined;
  isReloadPending: boolean;
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * The models a server serves, by name. Polls each directory's graft.json and model.onnx (polling, unlike
 * fs.watch, survives a directory replaced by rename) and swaps in a new version atomically: a request
 * holds the version it started with, so in-flight requests finish on the old session.
 */
export class ModelRegistry {
  private readonly models = new Map<string, ServedModel>();
  private isClosed = false;

  private constructor(private readonly options: ModelRegistryOptions) {}

  /** @throws GraftError INVALID_CONFIG for no models, a bad or duplicate name; INVALID_MODEL_DIR for a bad directory. */
  static async open(options: ModelRegistryOptions): Promise<ModelRegistry> {
    if (!options.models.length) {
      throw new GraftError('INVALID_CONFIG', 'No model directories given.', { hint: 'pass at least one directory written by `graft train --out`' });
    }
    const registry = new ModelRegistry(options);
    const entries = options.models.map((given) => {
      const dir = resolve(given);
      const name = options.names?.[given] ?? options.names?.[dir] ?? basename(dir);
      if (!NAME_PATTERN.test(name)) {
        throw new GraftError('INVALID_CONFIG', `Model name must be letters, digits, ".", "_" or "-" (URL-safe). Received: "${name}"`, {
          hint: 'pass --name <name>',
        });
      }
      return { dir, name };
    });
    const seen = new Set<string>();
    for (const { name, dir } of entries) {
      if (seen.has(name)) {
        throw new GraftError('INVALID_CONFIG', `Two model directories have the name "${name}" (the second is ${dir}).`, { hint: 'give each one a --name' });
      }
      seen.add(name);
    }
    const versions = await Promise.allSettled(entries.map(({ dir, name }) => ModelVersion.load(dir, versionOptions(options, name))));
    const failed = versions.find((v): v is PromiseRejectedResult => v.status === 'rejected');
    if (failed) {
      await Promise.all(versions.map((v) => (v.status === 'fulfilled' ? v.value.dispose() : undefined)));
      throw failed.reason;
    }
    entries.forEach(({ dir, name }, i) => {
      const current = (versions[i] as PromiseFulfilledResult<ModelVersion>).value;
      registry.models.set(name, { name, dir, current, reloadTimer: undefined, reloading: undefined, isReloadPending: false });
    });
    if (options.watch ?? true) for (const served of registry.models.values()) registry.watch(served);
    return registry;
  }

  get names(): string[] {
    return [...this.models.keys()];
  }

  get size(): number {
    return this.models.size;
  }

  get isReady(): boolean {
    return !this.isClosed && this.models.size > 0;
  }

  /** The model's directory and current version, without acquiring it. */
  describe(name: string): { name: string; dir: string; version: ModelVersion } {
    const served = this.require(name);
    return { name, dir: served.dir, version: served.current };
  }

  /** The current version, held for one request: call `release()` on it when done. */
  acquire(name: string): ModelVersion {
    return this.require(name).current.acquire();
  }

  /** Loads the directory again now and swaps it in; the old version keeps serving if loading fails. */
  reload(name: string): Promise<void> {
    const served = this.require(name);
    if (served.reloading) {
      served.isReloadPending = true;
      return served.reloading;
    }
    served.reloading = this.reloadNow(served).finally(() => {
      served.reloading = undefined;
      if (served.isReloadPending && !this.isClosed) {
        served.isReloadPending = false;
        void this.reload(name);
      }
    });
    return served.reloading;
  }

  async close(): Promise<void> {
    this.isClosed = true;
    for (const served of this.models.values()) {
      clearTimeout(served.reloadTimer);
      for (const file of [MANIFEST_FILE, ONNX_FILE]) unwatchFile(join(served.dir, file));
    }
    await Promise.all([...this.models.values()].map((s) => s.reloading));
    await Promise.all([...this.models.values()].map((s) => s.current.dispose()));
  }

  private require(name: string): ServedModel {
    const served = this.models.get(name);
    if (!served) {
      throw new GraftError('MODEL_NOT_FOUND', `No model named "${name}" is served. Served: ${this.names.join(', ')}.`, {
        hint: 'GET /v1/models lists them',
      });
    }
    return served;
  }

  private watch(served: ServedModel): void {
    const interval = this.options.reloadPollMs ?? 1000;
    const onChange = (now: Stats, before: Stats): void => {
      if (now.mtimeMs === before.mtimeMs && now.size === before.size) return;
      // Debounce: a copy or a training run writes several files; reload once they have settled.
      clearTimeout(served.reloadTimer);
      served.reloadTimer = setTimeout(() => void this.reload(served.name), Math.max(100, interval * 2));
    };
    for (const file of [MANIFEST_FILE, ONNX_FILE]) watchFile(join(served.dir, file), { interval, persistent: false }, onChange);
  }

  private async reloadNow(served: ServedModel): Promise<void> {
    try {
      // The folder may be between the two renames of its replacement: wait for it to stand still.
      const next = await loadSettledVersion(served.dir, versionOptions(this.options, served.name), () => this.isClosed);
      if (this.isClosed) {
        await next.dispose();
        return;
      }
      const previous = served.current;
      served.current = next;
      previous.retire();
      this.options.onReload?.(served.name, true);
      this.options.onEvent?.({ type: 'reload', model: served.name, labels: next.labels });
    } catch (error) {
      if (this.isClosed) return;
      this.options.onReload?.(served.name, false);
      this.options.onEvent?.({ type: 'reload-failed', model: served.name, message: error instanceof Error ? error.message : String(error) });
    }
  }
}

function versionOptions(options: ModelRegistryOptions, name: string): ModelVersionOptions {
  const { onBatch } = options;
  return {
    maxBatch: options.maxBatch,
    batchWindowMs: options.batchWindowMs,
    onBatch: onBatch ? (size, seconds) => onBatch(name, size, seconds) : undefined,
  };
}
