import type { DenseLayerWeights } from '../core/dense-layer.js';
import { GraftError } from '../core/errors.js';
import { assertReplaceableOutput, MODEL_DIR_OUTPUT } from '../core/replaceable-output.js';
import type { BackboneInfo } from '../engine/backbone.js';
import { viewLimits } from '../engine/feature-backbone.js';
import { onnxModelOf } from '../engine/onnx-model-of.js';
import type { ModelManifest } from '../model/manifest.js';
import { HEAD_WEIGHTS_FILE, ONNX_FILE } from '../model/manifest.js';
import { packHeadWeights, saveModelDir } from '../model/save-model.js';
import { headModelBytes, modelIo } from './head-model-onnx.js';
import { checkHeadLabels, checkHeadLayers } from './check-head-layers.js';
import { HEAD_BACKBONE_OPTIONS, type HeadBackboneOptions } from './head-backbone-options.js';
import { openHeadBackbone } from './open-head-backbone.js';
import { refuseUnknownOptions } from './known-options.js';
import { backboneRecord, versions } from './train-manifest.js';

/** Options of {@link saveHeadModel}: the backbone as {@link extractHeadFeatures} took it, and the head to put on it. */
export type SaveHeadModelOptions = HeadBackboneOptions & {
  /**
   * Dense layers on the raw features (no standardisation: fold it into the first layer, `learn.foldNormalization`):
   * hidden `relu` layers, then a `softmax` layer, or `linear` logits (model.onnx applies the softmax). Kernels are
   * row-major [inputDim, outputDim]; the first layer's inputDim is the backbone's `featureDim`.
   */
  readonly head: readonly DenseLayerWeights[];
  /** The class of each output of the last layer, in order: unique, non-empty, at least 2. */
  readonly labels: readonly string[];
  /** Average the probabilities of each image and its left-right mirror image inside model.onnx. Default false. */
  readonly tta?: boolean;
  /** The model directory to write: a new or empty folder, or an earlier model directory (replaced whole). */
  readonly out: string;
};

/** What {@link saveHeadModel} wrote. */
export interface SavedHeadModel {
  /** The model directory (absolute). */
  readonly model: string;
  readonly labels: readonly string[];
  readonly backbone: BackboneInfo;
  readonly tta: boolean;
}

const OPTIONS: Record<keyof SaveHeadModelOptions, true> = { ...HEAD_BACKBONE_OPTIONS, head: true, labels: true, tta: true, out: true };

/**
 * Writes a head fitted outside Graft as a model directory that `GraftModel.load`, `graft predict`, `eval`, `serve`,
 * `report` and `export` take: graft.json, head.bin, and model.onnx (the backbone, at the scales the head was fitted on,
 * then the head, optionally with mirror test-time augmentation). The "replace the head" step of `train()`: fit any
 * head on the features of {@link extractHeadFeatures} (the same backbone options) and save it here. Written atomically,
 * replacing only an earlier model directory or an empty folder, as train() does. Its graft.json says the head was
 * trained outside Graft (`head.trainedBy: 'external'`) and records no training run (no `training`, no selection, no
 * history), so `graft train --config` refuses it.
 *
 * @throws GraftError INVALID_CONFIG naming the value: labels not unique, empty or fewer than 2; a head whose first
 *   layer does not take the backbone's featureDim, whose last layer does not output one value per label, whose shapes
 *   do not chain, or with a weight that is not finite; `tta` on a backbone that cannot run it; an `out` that is not a
 *   model directory. The backbone's own errors as train().
 * @example
 * const { vectors, backbone } = await recipes.extractHeadFeatures(files, { backbone: 'mobilenet_v2' });
 * const head = myOwnFit(vectors, labelsOfFiles); // DenseLayerWeights[]: [backbone.featureDim -> classes]
 * await recipes.saveHeadModel({ backbone: 'mobilenet_v2', head, labels: ['ants', 'bees'], out: './model' });
 */
export async function saveHeadModel(options: SaveHeadModelOptions): Promise<SavedHeadModel> {
  refuseUnknownOptions('saveHeadModel', options, OPTIONS);
  const { head, labels } = options;
  checkHeadLabels(labels);
  checkHeadLayers(head, labels);
  if (options.tta !== undefined && typeof options.tta !== 'boolean') throw new GraftError('INVALID_CONFIG', `tta must be true or false. Received: ${JSON.stringify(options.tta)}`);
  await assertReplaceableOutput(options.out, MODEL_DIR_OUTPUT);
  const { handle, backboneModel } = await openHeadBackbone(options);
  const { info } = handle;
  if (head[0]!.inputDim !== info.featureDim) {
    const view = info.scales ? `${info.scales.length} scales` : 'one scale';
    throw new GraftError('INVALID_CONFIG', `head[0].inputDim is ${head[0]!.inputDim} but ${info.name} gives ${info.featureDim} features (${view}). Received: inputDim ${head[0]!.inputDim}`, {
      hint: 'fit the head on recipes.extractHeadFeatures(files, options) with the backbone options given here (backbone, multiScale, overrides, featureOutput)',
    });
  }
  const tta = options.tta === true;
  const noTta = viewLimits(backboneModel).noTta;
  if (tta && noTta) throw new GraftError('INVALID_CONFIG', `tta cannot run on ${info.name}: ${noTta}. Received: tta: true`, { hint: 'leave tta out' });

  // model.onnx ends in a softmax whatever the last layer's activation; head.bin's record says what it computes.
  const layers = head.map((layer, i) => (i === head.length - 1 ? { ...layer, activation: 'softmax' as const } : layer));
  const modelOnnx = await onnxModelOf(handle);
  const io = modelIo(modelOnnx, handle);
  const onnxBytes = headModelBytes(modelOnnx, handle, layers, { classes: labels.length, tta });
  const packed = packHeadWeights(layers);
  const manifest: ModelManifest = {
    format: 'graft-model',
    version: 2,
    labels: [...labels],
    preprocessing: info.preprocessing,
    backbone: backboneRecord(info),
    head: { trainedBy: 'external', hidden: layers.slice(0, -1).map((l) => l.outputDim), tta, tensors: packed.tensors, activations: layers.map((l) => l.activation) },
    // Graft neither trained nor scored this head: no run to record, no validation, no history.
    metrics: { val: null, history: [] },
    files: { onnx: ONNX_FILE, headWeights: HEAD_WEIGHTS_FILE },
    onnx: { ...io, ...(tta ? { tta: 'mirror' as const } : {}) },
    created: new Date().toISOString(),
    versions: versions(),
  };
  const model = await saveModelDir(options.out, manifest, packed.bytes, onnxBytes);
  return { model, labels: [...labels], backbone: info, tta };
}
