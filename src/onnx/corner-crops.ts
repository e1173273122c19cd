import type { Layout } from '../core/preprocessing.js';
import {
  cloneOnnxModel,
  graphOf,
  makeFloatValueInfo,
  makeInt64Initializer,
  makeNode,
  nodesOf,
  pruneDeadNodes,
  renameTensor,
  type ModelProto,
} from './onnx-model.js';

/** Prefix of every tensor and node the wrapper adds. */
const PREFIX = 'graft_corners';

/** How many corner crops the wrapped model returns per image, in this order: top-left, top-right, bottom-left, bottom-right. */
export const CORNER_CROPS = 4;

export interface CornerCropsOptions {
  /** The backbone's image input and its feature output [N, D]. */
  readonly input: string;
  readonly features: string;
  readonly featureDim: number;
  /** The backbone's input side S (e.g. 224). */
  readonly inputSize: number;
  /** The side S' of the square the crops are cut from (the multi-scale input, e.g. 256). */
  readonly outerSize: number;
  readonly layout: Layout;
  /** Name of the [N, 4D] output. */
  readonly output: string;
}

/**
 * The backbone's features of the four corner crops of side S of each S' square, side by side: [N, 4D]. With the
 * multi-scale model's centre crop, these are ImageNet's five crops (the ten-crop evaluation without its mirrors), the
 * crop half of extra training rows that shift the object within the frame (bench/RESULTS.md, "What the recipe is",
 * item 12). The crops run next to each other in one batch (image-major), as the multi-scale wrapper's views do.
 *
 * @returns a new model (`model` is not changed): input `options.input` [N, C, S', S'] (or NHWC), output
 *   `options.output` [N, 4D]. The backbone's input must take any batch size (the multi-scale wrapper checks that).
 */
export function cornerCropsModel(model: ModelProto, options: CornerCropsOptions): ModelProto {
  const wrapped = cloneOnnxModel(model);
  const graph = graphOf(wrapped);
  const { inputSize: s, outerSize: outer, layout } = options;
  const shift = outer - s;
  const [hAxis, wAxis] = layout === 'nchw' ? [2, 3] : [1, 2];
  const batch = `${PREFIX}_batch`;
  const features = `${PREFIX}_features_all`;
  renameTensor(graph, options.input, batch);
  renameTensor(graph, options.features, features);
  graph.valueInfo = [];
  const sizes = layout === 'nchw' ? [3, s, s] : [s, s, 3];
  const corners: readonly (readonly [number, number])[] = [[0, 0], [0, shift], [shift, 0], [shift, shift]];
  const slices = corners.map((_, i) =>
    makeNode('Slice', [options.input, `${PREFIX}_starts_${i}`, `${PREFIX}_ends_${i}`, `${PREFIX}_axes`], [`${PREFIX}_crop_${i}`], { name: `${PREFIX}_crop_${i}` }),
  );
  const before = [
    ...slices,
    // Image-major: [N, 4C, S, S] (NCHW) or [N, 4S, S, C] (NHWC) reshape to [4N, ...] as crop_i0, crop_i1, ...
    makeNode('Concat', corners.map((_, i) => `${PREFIX}_crop_${i}`), [`${PREFIX}_stacked`], { name: `${PREFIX}_stacked`, attributes: { axis: { int: 1 } } }),
    makeNode('Reshape', [`${PREFIX}_stacked`, `${PREFIX}_batch_shape`], [batch], { name: `${PREFIX}_batch` }),
  ];
  const after = [makeNode('Reshape', [features, `${PREFIX}_features_shape`], [options.output], { name: `${PREFIX}_features` })];
  graph.node = [...before, ...nodesOf(graph), ...after];
  (graph.initializer ??= []).push(
    ...corners.flatMap(([top, left], i) => [
      makeInt64Initializer(`${PREFIX}_starts_${i}`, [2], [top, left]),
      makeInt64Initializer(`${PREFIX}_ends_${i}`, [2], [top + s, left + s]),
    ]),
    makeInt64Initializer(`${PREFIX}_axes`, [2], [hAxis, wAxis]),
    makeInt64Initializer(`${PREFIX}_batch_shape`, [4], [-1, ...sizes]),
    makeInt64Initializer(`${PREFIX}_features_shape`, [2], [-1, CORNER_CROPS * options.featureDim]),
  );
  graph.input = (graph.input ?? []).map((v) =>
    v.name === options.input ? makeFloatValueInfo(options.input, layout === 'nchw' ? [null, 3, outer, outer] : [null, outer, outer, 3]) : v,
  );
  graph.output = [makeFloatValueInfo(options.output, [null, CORNER_CROPS * options.featureDim])];
  pruneDeadNodes(graph);
  return wrapped;
}
