import { redactUrlCredentials } from '../core/redact-url.js';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import type { BackboneInfo } from '../engine/backbone.js';
import { HEAD_WEIGHTS_FILE, ONNX_FILE, type ModelManifest } from '../model/manifest.js';
import type { packHeadWeights } from '../model/save-model.js';
import type { FineTuneSummary } from '../learn/fine-tune-summary.js';
import type { HeadPhase, ValScores } from '../learn/head-phase.js';
import type { DataSplit } from '../learn/prepare-data.js';
import type { TrainConfig } from '../learn/train-config.js';
import type { HeadConfig } from '../learn/head-config.js';
import type { TrainViews } from '../learn/select/cross-validate.js';

/**
 * The head as trained: its config plus what was chosen for it. Defined here, beside the manifest that records it,
 * so that train.ts imports this file and not the other way round (no import circle).
 */
export type TrainedHeadSummary = HeadConfig & {
  /** 'linear' (softmax regression by the exact solver) or 'mlp'. */
  readonly kind: 'linear' | 'mlp';
  /** Linear head: C and training rows as chosen (or fixed). */
  readonly c?: number;
  readonly trainViews?: TrainViews;
  /** Test-time augmentation (image + mirror image, averaged) inside model.onnx. */
  readonly tta: boolean;
};

/** graft.json for a trained model: what made it, what was chosen on the training images, and how it scored. */
export function buildManifest(parts: {
  data: DataSplit;
  info: BackboneInfo;
  config: TrainConfig;
  head: TrainedHeadSummary;
  headPhase: HeadPhase;
  fineTune: FineTuneSummary | undefined;
  packed: ReturnType<typeof packHeadWeights>;
  val: ValScores | null;
  onnxIO: ModelManifest['onnx'];
}): ModelManifest {
  const { data, info, config, headPhase, fineTune, packed, val } = parts;
  const history = [...headPhase.history, ...(fineTune?.history ?? [])];
  return {
    format: 'graft-model',
    version: 2,
    labels: data.labels,
    preprocessing: info.preprocessing,
    backbone: backboneRecord(info),
    head: { ...parts.head, tensors: packed.tensors, activations: headPhase.layers.map((l) => l.activation) },
    training: {
      config: { ...config, ...(fineTune ? { fineTune: fineTune.config } : {}) },
      outcome: {
        data: data.source,
        images: { train: headPhase.counts.train, val: headPhase.counts.val, skipped: data.skipped.length + headPhase.skipped.length },
        ...(headPhase.bestEpoch !== undefined ? { bestEpoch: headPhase.bestEpoch } : {}),
        stoppedEarly: headPhase.stoppedEarly,
        backend: headPhase.backend,
        selection: headPhase.selection,
        labelIssues: headPhase.labelIssues,
        ...(fineTune
          ? {
              fineTune: {
                cut: fineTune.cut,
                firstEpoch: headPhase.history.length + 1,
                bestEpoch: fineTune.bestEpoch,
                stoppedEarly: fineTune.stoppedEarly,
                exportCheck: fineTune.exportCheck,
                kept: fineTune.kept ?? 'fine-tuned',
                ...(fineTune.holdout ? { holdout: fineTune.holdout } : {}),
              },
            }
          : {}),
      },
    },
    metrics: { val: val ? { accuracy: val.accuracy, loss: val.loss, ...(val.top5 === undefined ? {} : { top5: val.top5 }) } : null, history },
    files: { onnx: ONNX_FILE, headWeights: HEAD_WEIGHTS_FILE },
    onnx: parts.onnxIO,
    created: new Date().toISOString(),
    versions: versions(),
  };
}

/** The backbone as graft.json records it: its identity and the features the head takes (a signed URL's credentials redacted). */
export function backboneRecord(info: BackboneInfo): ModelManifest['backbone'] {
  return { name: info.name, source: redactUrlCredentials(info.source), format: info.format, sha256: info.sha256, featureDim: info.featureDim, featureOutput: info.featureOutput, ...(info.scales ? { scales: info.scales } : {}) };
}

const require = createRequire(import.meta.url);
/** Versions of Graft and the engines that made a model, for the manifest. */
export function versions(): Record<string, string> {
  const v = (name: string): string => {
    try {
      return (require(`${name}/package.json`) as { version: string }).version;
    } catch {
      // A package whose "exports" hides its package.json (sharp): found beside its resolved entry point.
      try {
        return packageVersionNear(require.resolve(name), name);
      } catch {
        return 'unknown';
      }
    }
  };
  return { graft: (require('../../package.json') as { version: string }).version, node: process.versions.node, 'onnxruntime-node': v('onnxruntime-node'), '@tensorflow/tfjs': v('@tensorflow/tfjs'), sharp: v('sharp') };
}

/** The version in the package.json of package `name` at or above `file`. */
function packageVersionNear(file: string, name: string): string {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    const path = join(dir, 'package.json');
    if (!existsSync(path)) continue;
    const json = JSON.parse(readFileSync(path, 'utf8')) as { name?: string; version?: string };
    if (json.name === name && json.version) return json.version;
  }
  return 'unknown';
}
