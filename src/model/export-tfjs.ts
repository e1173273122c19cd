import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { convertModel, type ConversionReport } from '../formats/convert-model.js';
import type { Preprocessing } from '../engine/preprocessing.js';
import { readModelDir } from './manifest.js';

/** Written beside model.json: what a TF.js user needs to feed the model and read its output. */
export const TFJS_METADATA_FILE = 'graft-model.json';

export interface TfjsExport {
  readonly out: string;
  readonly labels: readonly string[];
  readonly conversion: ConversionReport;
}

/**
 * Exports a model directory's classifier (backbone, fine-tuned layers and head: its model.onnx) as a TF.js layers
 * model for `tf.loadLayersModel`, plus `graft-model.json` with the labels and the preprocessing. The conversion is
 * checked numerically before anything is written (see `convertModel`). The TF.js model takes NHWC images.
 */
export async function exportTfjs(modelDir: string, options: { out?: string } = {}): Promise<TfjsExport> {
  const { root, manifest, onnxPath } = await readModelDir(modelDir);
  const out = resolve(options.out ?? `${root}-tfjs`);
  const conversion = await convertModel(onnxPath, { to: 'tfjs', out });
  const pre: Preprocessing = { ...manifest.preprocessing, layout: 'nhwc' };
  const metadata = {
    format: 'graft-tfjs-model',
    labels: manifest.labels,
    preprocessing: pre,
    input: { layout: 'nhwc', shape: [null, pre.inputSize, pre.inputSize, 3] },
    output: 'the first output holds the class probabilities, in the order of `labels`; a second, when present, the backbone features',
    source: { model: root, backbone: manifest.backbone.name, fineTuned: manifest.training.fineTune !== undefined },
  };
  await writeFile(join(out, TFJS_METADATA_FILE), `${JSON.stringify(metadata, null, 2)}\n`);
  return { out, labels: manifest.labels, conversion };
}
