import { ModelVersion } from '../model-version.js';
import type { RunRecord } from './dashboard-store.js';

/**
 * The finished runs' models the page is trying out, loaded on first use and kept for the next image (a few recent
 * ones: each holds an onnxruntime session). A deleted run's model is let go; in-flight predictions finish first.
 */
export class RunModels {
  readonly #loaded = new Map<number, Promise<ModelVersion>>();

  constructor(private readonly keep = 2) {}

  /** The run's model, acquired: pair with `release()`. */
  async acquire(run: RunRecord): Promise<ModelVersion> {
    let loading = this.#loaded.get(run.id);
    if (loading === undefined) {
      loading = ModelVersion.load(run.modelDir);
      this.#loaded.set(run.id, loading);
      loading.catch(() => this.#loaded.delete(run.id));
      for (const id of [...this.#loaded.keys()].slice(0, Math.max(0, this.#loaded.size - this.keep))) this.forget(id);
    } else {
      // Most recently used last, so the least recent goes first.
      this.#loaded.delete(run.id);
      this.#loaded.set(run.id, loading);
    }
    return (await loading).acquire();
  }

  /** Lets go of a run's model (deleted, or the least recently used). */
  forget(id: number): void {
    const loading = this.#loaded.get(id);
    this.#loaded.delete(id);
    void loading?.then((version) => version.retire(), () => undefined);
  }

  close(): void {
    for (const id of [...this.#loaded.keys()]) this.forget(id);
  }
}
