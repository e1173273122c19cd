import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../core/atomic-write.js';
import { diskFullCause } from '../core/disk-full.js';
import { GraftError } from '../core/errors.js';
import type { Layout } from '../core/preprocessing.js';
import { exposeFeatures } from '../onnx/feature-output.js';
import { onnxModelSha256 } from '../onnx/model-id.js';
import { encodeOnnxModel, graphInputs, graphOf, readOnnxModel, valueShape, type ModelProto } from '../onnx/onnx-model.js';
import type { DeclaredSizes, FeatureRequest, FeatureSource, ModelFormatEntry } from './format-entry.js';
import type { BackboneLocation } from './model-location.js';
import { lazyConverter } from './lazy-converters.js';
import { startsLikeOnnx } from './magic-numbers.js';
import { withInputSide } from '../onnx/input-side.js';
import { checkRgbInput } from './rgb-input.js';
import { makeDirectory } from '../core/make-directory.js';

/** What exposing the features found in an ONNX backbone; cached per model so a warm run need not parse it. */
interface OnnxDescription {
  readonly featureDim: number;
  readonly featureOutput: string;
  readonly inputShape: readonly (number | null)[];
}

/**
 * The automatic feature choice's name in the description's file name. Bump it when exposeFeatures' rules change
 * (2: a 1x1-conv classifier on a pooled map), so a cached description of the old choice is not read.
 */
const AUTO_CHOICE = 'auto-2';

/** ONNX: runs in onnxruntime as it is, with its feature tensor exposed as an output. */
export const ONNX_FORMAT: ModelFormatEntry = {
  name: 'onnx',
  label: 'ONNX (.onnx)',
  storage: 'file',
  extensions: ['.onnx'],
  detect: ({ path, head }) => startsLikeOnnx(head) || path.endsWith('.onnx') || 'not a protobuf starting with ir_version, and no .onnx extension',
  locate: (path) => ({ kind: 'onnx', path }),
  modelId: (location) => onnxModelSha256(filePath(location)),
  declaredSizes: onnxSizes,
  openFeatures: openOnnxFeatures,
  convertTo: { tfjs: lazyConverter(async () => (await import('./onnx-conversion.js')).convertOnnxToTfjs) },
};

async function openOnnxFeatures(request: FeatureRequest): Promise<FeatureSource> {
  const path = filePath(request.location, request.source);
  // A tensor name may hold '/' or '..': it names the file by its hash.
  const choice = request.featureOutput === undefined ? AUTO_CHOICE : `out-${createHash('sha256').update(request.featureOutput).digest('hex').slice(0, 16)}`;
  const descPath = join(request.cacheDir, 'backbones', `${request.sha256}-${choice}.json`);
  let model: Promise<ModelProto> | undefined;
  let bytes: Uint8Array | undefined;
  const onnxModel = (): Promise<ModelProto> =>
    (model ??= (async () => {
      const exposed = await exposeFeatures(await readOnnxModel(path), { output: request.featureOutput, source: path });
      description = { featureDim: exposed.featureDim, featureOutput: exposed.featureOutput, inputShape: exposed.inputShape };
      // Only a saving for the next run: a cache disk too full for it is no reason to stop this one.
      await makeDirectory(dirname(descPath))
        .then(() => writeFileAtomic(descPath, JSON.stringify(description)))
        .catch((error: unknown) => {
          if (!diskFullCause(error)) throw error;
        });
      // --input-size other than the side the file declares: declared as asked (the two-scale wrapper does the same).
      return request.inputSize === undefined ? exposed.model : withInputSide(exposed.model, request.inputSize);
    })());
  // Encoded only for an inference session: a run whose features are all cached never needs the bytes.
  const onnxBytes = async (): Promise<Uint8Array> => (bytes ??= encodeOnnxModel(await onnxModel()));
  // Parsing a large model and finding its features takes a while; a warm run reads the description instead.
  // A description that does not parse (a disk that lost its end) is a miss: the model is described again.
  let description = existsSync(descPath) ? await readFile(descPath, 'utf8').then((text) => JSON.parse(text) as OnnxDescription).catch(() => undefined) : undefined;
  if (!description) await onnxModel();
  const { featureDim, featureOutput, inputShape } = description!;
  const { channels, ...declared } = declaredInput(inputShape);
  checkRgbInput(channels, inputShape, path);
  return { featureDim, featureOutput, declared, onnxFeatureOutput: featureOutput, onnxBytes, onnxModel };
}

/**
 * The input side the model declares and the feature size exposeFeatures finds (from the classifier's weights or the
 * output's shape; a blank image is run only where neither says it).
 */
async function onnxSizes(location: BackboneLocation, source: string): Promise<DeclaredSizes> {
  const path = filePath(location, source);
  const model = await readOnnxModel(path);
  const exposed = await exposeFeatures(model, { source: path }).catch((error: unknown) => {
    // A model without a findable classifier still has an input side to check; --feature-output is for training.
    if (error instanceof GraftError) return undefined;
    throw error;
  });
  const inputShape = exposed?.inputShape ?? valueShape(graphInputs(graphOf(model))[0]) ?? [];
  const { inputSize } = declaredInput(inputShape);
  return { ...(inputSize ? { inputSize } : {}), ...(exposed ? { featureDim: exposed.featureDim } : {}) };
}

/**
 * A 4-D input tells the layout and size: [N,3,S,S] is NCHW, [N,S,S,3] NHWC; another channel count (at most 4) is told
 * apart by the square image dims. The scale it cannot tell.
 */
function declaredInput(inputShape: readonly (number | null)[]): { layout?: Layout; inputSize?: number; channels?: number } {
  const [, c1, h, w] = inputShape;
  if (c1 === 3 && typeof h === 'number') return { layout: 'nchw', inputSize: h, channels: 3 };
  if (w === 3 && typeof c1 === 'number') return { layout: 'nhwc', inputSize: c1, channels: 3 };
  if (inputShape.length !== 4) return {};
  if (typeof c1 === 'number' && c1 <= 4 && typeof h === 'number' && h === w) return { layout: 'nchw', inputSize: h, channels: c1 };
  if (typeof w === 'number' && w <= 4 && typeof c1 === 'number' && c1 === h) return { layout: 'nhwc', inputSize: c1, channels: w };
  return {};
}

function filePath(location: BackboneLocation, source = 'the model'): string {
  if (location.kind !== 'onnx') throw new GraftError('INTERNAL', `ONNX backbone without a file: ${source}`);
  return location.path;
}
