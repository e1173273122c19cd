import { GraftError } from '../core/errors.js';
import type { Layout } from '../core/preprocessing.js';
import {
  cloneOnnxModel,
  encodeOnnxModel,
  graphInputs,
  graphOf,
  makeFloatInitializer,
  makeInt64Initializer,
  makeNode,
  nodesOf,
  opsetVersion,
  valueShape,
  renameTensor,
  type ModelProto,
} from './onnx-model.js';

/** Prefix of every tensor and node the wrapper adds, so it can be recognised and taken off again. */
const PREFIX = 'graft_tta';

export interface MirrorTtaNames {
  /** The image input (kept: callers feed the same name). */
  readonly input: string;
  /** The class-probability output [N, K]: becomes the mean of the image's and its mirror image's probabilities. */
  readonly probabilities: string;
  /** The feature output [N, D]: stays the plain image's features. */
  readonly features: string;
  /** K and D. */
  readonly classes: number;
  readonly featureDim: number;
}

/**
 * Test-time augmentation inside the model: each image is classified together with its left-right mirror image and
 * the two probability vectors are averaged. The input batch [N, ...] becomes [2N, ...] (the images, then their
 * mirrors: a Slice with step -1 along the width axis), the original graph runs once on it, and the outputs are
 * split back: `probabilities` = (p(x) + p(mirror x)) / 2, `features` = the plain images' features. Costs one more
 * backbone pass per image; every consumer of model.onnx (eval, predict, serve, the web export) gets the same answer.
 *
 * Only ops that mean the same from opset 10 on are used (Slice with steps is 10+).
 *
 * @throws GraftError `UNSUPPORTED_MODEL` for opset < 10, or an input whose batch size is fixed.
 */
export function wrapMirrorTta(model: ModelProto, names: MirrorTtaNames, layout: Layout): Uint8Array {
  return encodeOnnxModel(mirrorTtaModel(model, names, layout));
}

/** {@link wrapMirrorTta}'s model before encoding (a clone: `model` is not changed). */
export function mirrorTtaModel(model: ModelProto, names: MirrorTtaNames, layout: Layout): ModelProto {
  const opset = opsetVersion(model) ?? 0;
  if (opset < 10) {
    throw new GraftError('UNSUPPORTED_MODEL', `Test-time augmentation needs ONNX opset 10 or newer; this model uses ${opset}.`, { hint: 'train with --tta off' });
  }
  const wrapped = cloneOnnxModel(model);
  const graph = graphOf(wrapped);
  const input = graphInputs(graph).find((v) => v.name === names.input);
  const batch = valueShape(input)?.[0];
  if (typeof batch === 'number') {
    throw new GraftError('UNSUPPORTED_MODEL', `Test-time augmentation runs two images per input image, but input "${names.input}" has a fixed batch size of ${batch}.`, {
      hint: 'train with --tta off',
    });
  }
  const inner = { input: `${PREFIX}_batch`, probabilities: `${PREFIX}_probabilities`, features: `${PREFIX}_features` };
  renameTensor(graph, names.input, inner.input);
  renameTensor(graph, names.probabilities, inner.probabilities);
  renameTensor(graph, names.features, inner.features);
  // value_info shapes were declared for batch N; inside, the batch is 2N. onnxruntime infers them again.
  graph.valueInfo = [];
  const widthAxis = layout === 'nchw' ? 3 : 2;
  const before = [
    makeNode('Slice', [names.input, `${PREFIX}_starts`, `${PREFIX}_ends`, `${PREFIX}_axes`, `${PREFIX}_steps`], [`${PREFIX}_mirror`], { name: `${PREFIX}_mirror` }),
    makeNode('Concat', [names.input, `${PREFIX}_mirror`], [inner.input], { name: `${PREFIX}_concat`, attributes: { axis: { int: 0 } } }),
  ];
  const after = [
    // [2N, K] -> [2, N, K]: the plain half, then the mirrored half.
    makeNode('Reshape', [inner.probabilities, `${PREFIX}_pairs_p`], [`${PREFIX}_probabilities_pairs`], { name: `${PREFIX}_reshape_probabilities` }),
    makeNode('Gather', [`${PREFIX}_probabilities_pairs`, `${PREFIX}_first`], [`${PREFIX}_p_plain`], { name: `${PREFIX}_p_plain`, attributes: { axis: { int: 0 } } }),
    makeNode('Gather', [`${PREFIX}_probabilities_pairs`, `${PREFIX}_second`], [`${PREFIX}_p_mirror`], { name: `${PREFIX}_p_mirror`, attributes: { axis: { int: 0 } } }),
    makeNode('Add', [`${PREFIX}_p_plain`, `${PREFIX}_p_mirror`], [`${PREFIX}_p_sum`], { name: `${PREFIX}_p_sum` }),
    makeNode('Mul', [`${PREFIX}_p_sum`, `${PREFIX}_half`], [names.probabilities], { name: `${PREFIX}_p_mean` }),
    makeNode('Reshape', [inner.features, `${PREFIX}_pairs_f`], [`${PREFIX}_features_pairs`], { name: `${PREFIX}_reshape_features` }),
    makeNode('Gather', [`${PREFIX}_features_pairs`, `${PREFIX}_first`], [names.features], { name: `${PREFIX}_features_plain`, attributes: { axis: { int: 0 } } }),
  ];
  graph.node = [...before, ...nodesOf(graph), ...after];
  (graph.initializer ??= []).push(
    makeInt64Initializer(`${PREFIX}_starts`, [1], [-1]),
    // Past the start with a negative step: INT64_MIN would do, but any value below -width is clamped the same way.
    makeInt64Initializer(`${PREFIX}_ends`, [1], [-(2 ** 31)]),
    makeInt64Initializer(`${PREFIX}_axes`, [1], [widthAxis]),
    makeInt64Initializer(`${PREFIX}_steps`, [1], [-1]),
    makeInt64Initializer(`${PREFIX}_pairs_p`, [3], [2, -1, names.classes]),
    makeInt64Initializer(`${PREFIX}_pairs_f`, [3], [2, -1, names.featureDim]),
    makeInt64Initializer(`${PREFIX}_first`, [], [0]),
    makeInt64Initializer(`${PREFIX}_second`, [], [1]),
    makeFloatInitializer(`${PREFIX}_half`, [], new Float32Array([0.5])),
  );
  return wrapped;
}

/** Whether a model was wrapped by {@link wrapMirrorTta}. */
export function hasMirrorTta(model: ModelProto): boolean {
  return nodesOf(graphOf(model)).some((n) => n.name === `${PREFIX}_mirror`);
}

/**
 * The model without its test-time augmentation: what {@link wrapMirrorTta} was given (up to value_info), for
 * converters that rebuild the mirror in their own terms (Keras layers: composeMirrorTtaLayers, the Teachable Machine
 * export).
 */
export function unwrapMirrorTta(model: ModelProto, names: Pick<MirrorTtaNames, 'input' | 'probabilities' | 'features'>): ModelProto {
  const plain = cloneOnnxModel(model);
  const graph = graphOf(plain);
  graph.node = nodesOf(graph).filter((n) => !(n.name ?? '').startsWith(`${PREFIX}_`));
  graph.initializer = (graph.initializer ?? []).filter((t) => !(t.name ?? '').startsWith(`${PREFIX}_`));
  renameTensor(graph, `${PREFIX}_batch`, names.input);
  renameTensor(graph, `${PREFIX}_probabilities`, names.probabilities);
  renameTensor(graph, `${PREFIX}_features`, names.features);
  return plain;
}

/**
 * The names {@link wrapMirrorTta} was given, read back from a wrapped model (the image input, the averaged
 * probabilities, the plain image's features), or undefined when the model has no mirror TTA.
 */
export function mirrorTtaNames(model: ModelProto): Pick<MirrorTtaNames, 'input' | 'probabilities' | 'features'> | undefined {
  const nodes = nodesOf(graphOf(model));
  const named = (suffix: string) => nodes.find((n) => n.name === `${PREFIX}_${suffix}`);
  const input = named('mirror')?.input?.[0];
  const probabilities = named('p_mean')?.output?.[0];
  const features = named('features_plain')?.output?.[0];
  return input && probabilities && features ? { input, probabilities, features } : undefined;
}
