import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeDirectoryStaged, writeFileAtomic } from '../core/atomic-write.js';
import { assertReplaceableOutput, LAYERS_DIR_OUTPUT } from '../core/replaceable-output.js';

/**
 * Saves a TF.js layers model as `model.json` + `weights.bin` in `dir`, the layout `tf.loadLayersModel` and
 * Teachable Machine use. Written into a staging folder and swapped in, so a failure leaves `dir` as it was. Only an
 * earlier TF.js model folder or an empty folder is replaced.
 */
export async function saveLayersModelToDir(model: tf.LayersModel, dir: string): Promise<{ modelJson: string; weights: string; bytes: number }> {
  const dest = resolve(dir);
  await assertReplaceableOutput(dest, LAYERS_DIR_OUTPUT);
  let bytes = 0;
  await writeDirectoryStaged(dest, 'staging', async (staging) => {
    await model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        const weightData = artifacts.weightData as ArrayBuffer;
        bytes = weightData.byteLength;
        const modelJson = {
          format: 'layers-model',
          generatedBy: `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
          convertedBy: 'graft',
          modelTopology: artifacts.modelTopology,
          weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
        };
        await writeFileAtomic(join(staging, 'weights.bin'), new Uint8Array(weightData));
        await writeFileAtomic(join(staging, 'model.json'), JSON.stringify(modelJson));
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
  }, { owns: LAYERS_DIR_OUTPUT.owns });
  return { modelJson: join(dest, 'model.json'), weights: join(dest, 'weights.bin'), bytes };
}
