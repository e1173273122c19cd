import type { WebExportInfo } from '../export-web.js';
import type { OpenEngine } from './browser-engine.js';
import { preprocessImage, type ImageInput } from './preprocess-image.js';

/** One ranked label. */
export interface Prediction {
  readonly label: string;
  readonly probability: number;
}

/** What {@link WebClassifier.classify} resolves to. */
export interface Classification {
  /** The top `topK` labels, most probable first (ties in label order). */
  readonly predictions: Prediction[];
  /** Every class's probability, in `info.labels` order. */
  readonly probabilities: number[];
  readonly timing_ms: number;
}

/** A loaded web export: `GraftWeb.load()` resolves to one. */
export interface WebClassifier {
  readonly info: WebExportInfo;
  classify(source: ImageInput, options?: { readonly topK?: number }): Promise<Classification>;
  /** The model's input tensor data for an image (what classify runs), for checking against the server. */
  preprocess(source: ImageInput): Promise<Float32Array>;
  dispose(): void | Promise<void>;
}

/**
 * `GraftWeb.load(baseUrl)` for one engine: loads model.json and the model it names from `baseUrl` (default: the
 * page's folder). Labels and preprocessing come from model.json, never from constants here.
 */
export function makeLoad(openEngine: OpenEngine): (baseUrl?: string) => Promise<WebClassifier> {
  return async (baseUrl) => {
    const base = new URL(baseUrl || './', document.baseURI);
    // Browsers fetch nothing from file:// (and load no wasm from it): the one thing to do is serve the folder.
    if (base.protocol === 'file:') throw new Error('this page was opened from a file; serve its folder over HTTP (e.g. python3 -m http.server -d <folder>) and open it from there');
    const response = await fetch(new URL('model.json', base));
    if (!response.ok) throw new Error(`Cannot load model.json: HTTP ${response.status}`);
    const info = (await response.json()) as WebExportInfo;
    if (info.format !== 'graft-web-model') throw new Error('model.json is not a Graft web model');
    const pre = info.preprocessing;
    const engine = await openEngine(info, base, pre);
    const preprocess = (source: ImageInput): Promise<Float32Array> => preprocessImage(source, pre);
    return {
      info,
      preprocess,
      async classify(source, options) {
        const topK = Math.max(1, Math.min(options?.topK || 5, info.labels.length));
        const started = performance.now();
        const probabilities = await engine.run(await preprocess(source));
        const predictions = info.labels
          .map((label, i) => ({ label, probability: probabilities[i]!, i }))
          .sort((a, b) => b.probability - a.probability || a.i - b.i)
          .slice(0, topK)
          .map(({ label, probability }) => ({ label, probability }));
        return { predictions, probabilities, timing_ms: performance.now() - started };
      },
      dispose: () => engine.dispose(),
    };
  };
}
