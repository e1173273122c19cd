import { GraftError } from '../core/errors.js';
import type { Layout } from '../core/preprocessing.js';
import {
  cloneOnnxModel,
  encodeOnnxModel,
  findInitializer,
  initializerToNumbers,
  graphOf,
  makeFloatInitializer,
  makeFloatValueInfo,
  makeInt64Initializer,
  makeNode,
  nodesOf,
  opsetVersion,
  pruneDeadNodes,
  renameTensor,
  valueShape,
  type ModelProto,
} from './onnx-model.js';

/** Prefix of every tensor and node the wrapper adds. */
const PREFIX = 'graft_scales';

export interface MultiScaleOptions {
  /** The backbone's image input and its feature output [N, D]. */
  readonly input: string;
  readonly features: string;
  readonly featureDim: number;
  /** The backbone's input side S (e.g. 224). */
  readonly inputSize: number;
  /** The crop of the first view, as a share of the short side (e.g. 0.875); the second view is the whole square. */
  readonly cropFraction: number;
  readonly layout: Layout;
  /** Name of the [N, 2D] output. */
  readonly output: string;
}

/** The side of the wrapped model's input: the square whose centre crop of `cropFraction` is the backbone's input. */
export function multiScaleInputSize(inputSize: number, cropFraction: number): number {
  return Math.round(inputSize / cropFraction);
}

/**
 * Features at two scales from one backbone pass over a doubled batch: the input is the image's centred square at
 * side S' = S / cropFraction; the backbone sees its centre crop of side S (ImageNet's evaluation crop: objects at
 * the scale the network learnt them) and the whole square resized to S (the context around them), and the two
 * feature vectors are concatenated, [crop | whole], into one of 2D. Concatenating scales is the classic way to
 * make frozen features carry both (measured in bench/RESULTS.md, "Heads"; +0.6 to +3.9 points over one scale).
 *
 * The two views of an image run next to each other in the batch (image-major), so the backbone's batch is
 * [crop_0, whole_0, crop_1, whole_1, ...] and its [2N, D] features reshape to [N, 2D] without a transpose.
 * The whole-square view is resized inside the graph (ONNX Resize, linear), so training features and predictions
 * come from the very same ops.
 *
 * @returns the wrapped model's bytes: input `options.input` [N, C, S', S'] (or NHWC), output `options.output` [N, 2D].
 * @throws GraftError `UNSUPPORTED_MODEL` for opset < 11 (Resize with sizes) or an input with a fixed batch size.
 */
export function wrapMultiScale(model: ModelProto, options: MultiScaleOptions): Uint8Array {
  return encodeOnnxModel(multiScaleModel(model, options));
}

/** {@link wrapMultiScale}'s model before encoding (a clone: `model` is not changed), for more surgery before one encode. */
export function multiScaleModel(model: ModelProto, options: MultiScaleOptions): ModelProto {
  const opset = opsetVersion(model) ?? 0;
  if (opset < 11) {
    throw new GraftError('UNSUPPORTED_MODEL', `Multi-scale features need ONNX opset 11 or newer (Resize with sizes); this model uses ${opset}.`, { hint: "train with --no-multi-scale" });
  }
  const wrapped = cloneOnnxModel(model);
  const graph = graphOf(wrapped);
  const input = (graph.input ?? []).find((v) => v.name === options.input);
  if (!input) throw new GraftError('UNSUPPORTED_MODEL', `The backbone has no input "${options.input}".`);
  const dims = input.type?.tensorType?.shape?.dim ?? [];
  if (dims[0]?.dimValue !== undefined && dims[0]?.dimValue !== null && Number(dims[0].dimValue) > 0) {
    throw new GraftError('UNSUPPORTED_MODEL', `Multi-scale features run two images per input image, but input "${options.input}" has a fixed batch size.`, {
      hint: "train with --no-multi-scale",
    });
  }
  const { inputSize: s, layout } = options;
  const outer = multiScaleInputSize(s, options.cropFraction);
  const margin = Math.floor((outer - s) / 2);
  const [hAxis, wAxis] = layout === 'nchw' ? [2, 3] : [1, 2];
  const batch = `${PREFIX}_batch`;
  const pairs = `${PREFIX}_features_pairs`;
  renameTensor(graph, options.input, batch);
  renameTensor(graph, options.features, pairs);
  // Declared shapes were for batch N at side S; onnxruntime infers them again.
  graph.valueInfo = [];
  const sizes = layout === 'nchw' ? [3, s, s] : [s, s, 3];
  const before = [
    makeNode('Slice', [options.input, `${PREFIX}_crop_starts`, `${PREFIX}_crop_ends`, `${PREFIX}_crop_axes`], [`${PREFIX}_crop`], { name: `${PREFIX}_crop` }),
    makeNode('Shape', [options.input], [`${PREFIX}_shape`], { name: `${PREFIX}_shape` }),
    makeNode('Slice', [`${PREFIX}_shape`, `${PREFIX}_zero`, `${PREFIX}_one`, `${PREFIX}_zero`], [`${PREFIX}_n`], { name: `${PREFIX}_n` }),
    makeNode('Concat', [`${PREFIX}_n`, `${PREFIX}_chw`], [`${PREFIX}_sizes`], { name: `${PREFIX}_sizes`, attributes: { axis: { int: 0 } } }),
    makeNode('Resize', [options.input, `${PREFIX}_roi`, `${PREFIX}_scales`, `${PREFIX}_sizes`], [`${PREFIX}_whole`], {
      name: `${PREFIX}_whole`,
      attributes: { mode: { string: 'linear' }, coordinate_transformation_mode: { string: 'half_pixel' } },
    }),
    // Image-major pairs: [N, 2C, S, S] (NCHW) or [N, 2S, S, C] (NHWC) reshape to [2N, ...] as crop_i, whole_i.
    makeNode('Concat', [`${PREFIX}_crop`, `${PREFIX}_whole`], [`${PREFIX}_stacked`], { name: `${PREFIX}_stacked`, attributes: { axis: { int: 1 } } }),
    makeNode('Reshape', [`${PREFIX}_stacked`, `${PREFIX}_batch_shape`], [batch], { name: `${PREFIX}_batch` }),
  ];
  const after = [makeNode('Reshape', [pairs, `${PREFIX}_features_shape`], [options.output], { name: `${PREFIX}_features` })];
  graph.node = [...before, ...nodesOf(graph), ...after];
  (graph.initializer ??= []).push(
    makeInt64Initializer(`${PREFIX}_crop_starts`, [2], [margin, margin]),
    makeInt64Initializer(`${PREFIX}_crop_ends`, [2], [margin + s, margin + s]),
    makeInt64Initializer(`${PREFIX}_crop_axes`, [2], [hAxis, wAxis]),
    makeInt64Initializer(`${PREFIX}_zero`, [1], [0]),
    makeInt64Initializer(`${PREFIX}_one`, [1], [1]),
    makeInt64Initializer(`${PREFIX}_chw`, [3], sizes),
    makeFloatInitializer(`${PREFIX}_roi`, [0], new Float32Array(0)),
    makeFloatInitializer(`${PREFIX}_scales`, [0], new Float32Array(0)),
    makeInt64Initializer(`${PREFIX}_batch_shape`, [4], [-1, ...sizes]),
    makeInt64Initializer(`${PREFIX}_features_shape`, [2], [-1, 2 * options.featureDim]),
  );
  graph.input = (graph.input ?? []).map((v) =>
    v.name === options.input ? (layout === 'nchw' ? makeFloatValueInfo(options.input, [null, 3, outer, outer]) : makeFloatValueInfo(options.input, [null, outer, outer, 3])) : v,
  );
  graph.output = [makeFloatValueInfo(options.output, [null, 2 * options.featureDim])];
  pruneDeadNodes(graph);
  return wrapped;
}

/** A model wrapped by {@link wrapMultiScale}, taken apart: what the views are and the graphs around them. */
export interface MultiScaleParts {
  /** The image input and its layout; its side is `outer`. */
  readonly input: string;
  readonly layout: Layout;
  readonly outer: number;
  /** The backbone's side S and the crop's offset on both axes (the crop is [margin, margin + S)). */
  readonly inputSize: number;
  readonly margin: number;
  /** The backbone alone: input `input` at side S, output `features` [N, D]. */
  readonly backbone: ModelProto;
  readonly features: string;
  /** Everything after the [N, 2D] feature tensor `pairs`: input `pairs`, the model's outputs. */
  readonly head: ModelProto;
  readonly pairs: string;
}

/**
 * Takes apart a model made by {@link wrapMultiScale} (and anything appended after it), for runtimes that cannot put
 * two views of an image into one batch (a Keras layers model): the caller runs `backbone` on each view and `head` on
 * their concatenation [crop | whole]. Returns undefined for any other model (or one whose image input is not the
 * wrapper's, e.g. under test-time augmentation).
 */
export function splitMultiScale(model: ModelProto): MultiScaleParts | undefined {
  const graph = graphOf(model);
  const nodes = nodesOf(graph);
  const crop = nodes.find((n) => n.name === `${PREFIX}_crop`);
  const after = nodes.find((n) => n.name === `${PREFIX}_features`);
  const init = (suffix: string) => {
    const tensor = findInitializer(graph, `${PREFIX}_${suffix}`);
    return tensor ? initializerToNumbers(tensor) : undefined;
  };
  const starts = init('crop_starts');
  const axes = init('crop_axes');
  const batchShape = init('batch_shape');
  const featuresShape = init('features_shape');
  const input = crop?.input?.[0] ?? '';
  const declared = valueShape((graph.input ?? []).find((v) => v.name === input));
  if (!after || !starts || !axes || !batchShape || !featuresShape || !declared) return undefined;
  const layout: Layout = axes[0] === 2 ? 'nchw' : 'nhwc';
  const inputSize = batchShape[layout === 'nchw' ? 2 : 1]!;
  const outer = declared[layout === 'nchw' ? 2 : 1];
  if (typeof outer !== 'number') return undefined;
  const pairs = after.output?.[0] ?? '';
  const features = `${PREFIX}_features_pairs`;
  const width = featuresShape[1]!;
  const ours = (name: string | null | undefined) => (name ?? '').startsWith(`${PREFIX}_`);

  const backbone = cloneOnnxModel(model);
  const b = graphOf(backbone);
  b.node = nodesOf(b).filter((n) => !ours(n.name));
  b.initializer = (b.initializer ?? []).filter((t) => !ours(t.name));
  renameTensor(b, `${PREFIX}_batch`, input);
  b.input = [makeFloatValueInfo(input, layout === 'nchw' ? [null, 3, inputSize, inputSize] : [null, inputSize, inputSize, 3])];
  b.output = [makeFloatValueInfo(features, [null, width / 2])];
  b.valueInfo = [];
  pruneDeadNodes(b);

  // The head: every node that reads the feature pairs, directly or not.
  const head = cloneOnnxModel(model);
  const h = graphOf(head);
  const reached = new Set([pairs]);
  h.node = nodesOf(h).filter((n) => {
    if (!(n.input ?? []).some((name) => reached.has(name))) return false;
    for (const name of n.output ?? []) reached.add(name);
    return true;
  });
  const read = new Set(h.node.flatMap((n) => n.input ?? []));
  h.initializer = (h.initializer ?? []).filter((t) => read.has(t.name ?? ''));
  h.input = [makeFloatValueInfo(pairs, [null, width])];
  h.valueInfo = [];
  return { input, layout, outer, inputSize, margin: starts[0]!, backbone, features, head, pairs };
}
