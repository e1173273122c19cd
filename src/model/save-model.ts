import { createHash } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import type { DenseLayerWeights } from '../core/dense-layer.js';
import { writeDirectoryStaged, writeFileAtomic } from '../core/atomic-write.js';
import { assertReplaceableOutput, MODEL_DIR_OUTPUT } from '../core/replaceable-output.js';
import { HEAD_WEIGHTS_FILE, MANIFEST_FILE, ONNX_FILE, type ModelManifest, type StoredTensor } from './manifest.js';
import { makeDirectory } from '../core/make-directory.js';

/** Packs the head's layers into one float32 buffer plus the tensor table stored in the manifest. */
export function packHeadWeights(layers: readonly DenseLayerWeights[]): { bytes: Uint8Array; tensors: StoredTensor[] } {
  const tensors: StoredTensor[] = [];
  const parts: Float32Array[] = [];
  let offset = 0;
  layers.forEach((layer, i) => {
    const add = (name: string, shape: number[], data: Float32Array): void => {
      tensors.push({ name, shape, offset });
      parts.push(data);
      offset += data.byteLength;
    };
    add(`dense_${i}/kernel`, [layer.inputDim, layer.outputDim], layer.weight);
    add(`dense_${i}/bias`, [layer.outputDim], layer.bias ?? new Float32Array(layer.outputDim));
  });
  const bytes = new Uint8Array(offset);
  let at = 0;
  for (const p of parts) {
    bytes.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), at);
    at += p.byteLength;
  }
  return { bytes, tensors };
}

/** Reads head.bin back into Dense layers using the manifest's tensor table. */
export function unpackHeadWeights(bytes: Uint8Array, manifest: Pick<ModelManifest, 'head'>): DenseLayerWeights[] {
  const { tensors, activations } = manifest.head;
  const read = (t: StoredTensor): Float32Array => {
    const count = t.shape.reduce((a, b) => a * b, 1);
    return new Float32Array(bytes.buffer.slice(bytes.byteOffset + t.offset, bytes.byteOffset + t.offset + count * 4));
  };
  const layers: DenseLayerWeights[] = [];
  for (let i = 0; i < tensors.length / 2; i++) {
    const kernel = tensors[2 * i]!;
    const bias = tensors[2 * i + 1]!;
    layers.push({ inputDim: kernel.shape[0]!, outputDim: kernel.shape[1]!, weight: read(kernel), bias: read(bias), activation: activations[i] ?? 'linear' });
  }
  return layers;
}

/**
 * Writes a model directory: graft.json, head.bin and model.onnx. Everything is written into a staging folder
 * beside `outDir` and swapped in at the end, so an interrupted save leaves the previous model intact. Only an
 * earlier model directory or an empty folder is replaced (`assertReplaceableOutput`), and files of the user's in
 * it (a README, `.git/`) are kept.
 */
export async function saveModelDir(outDir: string, manifest: ModelManifest, headBytes: Uint8Array, onnxBytes: Uint8Array): Promise<string> {
  const dest = resolve(outDir);
  await assertReplaceableOutput(dest, MODEL_DIR_OUTPUT);
  await makeDirectory(dirname(dest));
  await writeDirectoryStaged(dest, 'staging', async (staging) => {
    await writeFileAtomic(join(staging, HEAD_WEIGHTS_FILE), headBytes);
    await writeFileAtomic(join(staging, ONNX_FILE), onnxBytes);
    // The manifest last: a folder with graft.json is a complete model. It records model.onnx's hash, which loaders check.
    const recorded: ModelManifest = { ...manifest, files: { ...manifest.files, onnxSha256: createHash('sha256').update(onnxBytes).digest('hex') } };
    await writeFileAtomic(join(staging, MANIFEST_FILE), `${JSON.stringify(recorded, null, 2)}\n`);
  }, { owns: MODEL_DIR_OUTPUT.owns });
  return dest;
}
