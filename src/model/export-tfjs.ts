import { writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { convertModel, type ConversionReport } from '../convert/convert-model.js';
import { writeDirectoryStaged } from '../core/atomic-write.js';
import { assertOverwriteAllowed, LAYERS_DIR_OUTPUT } from '../core/replaceable-output.js';
import type { Preprocessing } from '../core/preprocessing.js';
import { readModelDir } from './manifest.js';
import { readModelDirOnnx } from './model-dir-onnx.js';

/** Written beside model.json: what a TF.js user needs to feed the model and read its output. */
export const TFJS_METADATA_FILE = 'graft-model.json';

export interface TfjsExport {
  readonly out: string;
  readonly labels: readonly string[];
  readonly conversion: ConversionReport;
  /** The model averages each image's probabilities with its mirror image's itself (model.onnx's test-time augmentation). */
  readonly testTimeAugmentation: boolean;
}

/**
 * Exports a model directory's classifier (backbone, fine-tuned layers and head: its model.onnx) as a TF.js layers
 * model for `tf.loadLayersModel`, plus `graft-model.json` with the labels and the preprocessing. A model that chose
 * the mirror test-time augmentation keeps it inside the layers model, so `model.predict` answers as `graft eval`
 * does. The conversion is checked numerically before anything is written (see `convertModel`). The TF.js model takes NHWC images. A
 * non-empty `out` is refused unless `overwrite` (and even then, anything but an earlier TF.js model folder).
 */
export async function exportTfjs(modelDir: string, options: { out?: string; overwrite?: boolean } = {}): Promise<TfjsExport> {
  const { root, manifest, manifestPath, onnxPath } = await readModelDir(modelDir);
  // A directory edited by hand fails here, naming its files, not in the conversion of a working copy.
  await readModelDirOnnx(manifest, { manifestPath, onnxPath });
  const out = resolve(options.out ?? `${root}-tfjs`);
  // As the web export: an existing export is replaced only when asked (and then only a TF.js model folder, as convert checks).
  await assertOverwriteAllowed(out, options.overwrite, LAYERS_DIR_OUTPUT, [root]);
  const tta = manifest.onnx.tta === 'mirror';
  const pre: Preprocessing = { ...manifest.preprocessing, layout: 'nhwc' };
  const metadata = {
    format: 'graft-tfjs-model',
    labels: manifest.labels,
    preprocessing: pre,
    input: { layout: 'nhwc', shape: [null, pre.inputSize, pre.inputSize, 3] },
    output: 'the first output holds the class probabilities, in the order of `labels`; a second, when present, the backbone features',
    // Inside the model, as in model.onnx (a reader that still averages the mirror itself gets the same answer, twice as slowly).
    ...(tta ? { testTimeAugmentation: { kind: 'mirror', inModel: true, what: 'the model averages the probabilities of the image and of its left-right mirror image itself' } } : {}),
    // The folder's name, not its path: the export is made to be published.
    source: { model: basename(root), backbone: manifest.backbone.name, fineTuned: manifest.training?.outcome.fineTune !== undefined },
  };
  // The converted model and its metadata are written side by side in a staging folder (convertModel makes it), then
  // swapped in together: a failure or a kill between the two never leaves a model.json without the labels and
  // preprocessing beside it.
  const conversion = await writeDirectoryStaged(
    out,
    'exporting',
    async (staging) => {
      const written = await convertModel(onnxPath, { to: 'tfjs', out: staging });
      await writeFile(join(staging, TFJS_METADATA_FILE), `${JSON.stringify(metadata, null, 2)}\n`);
      return written;
    },
    { create: false, owns: LAYERS_DIR_OUTPUT.owns },
  );
  return { out, labels: manifest.labels, conversion: { ...conversion, wrote: { ...conversion.wrote, path: out } }, testTimeAugmentation: tta };
}
