import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { externalDataFiles } from './external-data.js';
import { decodeOnnxModel } from './onnx-model.js';

/**
 * Model id of an ONNX file: its sha256, or, when its weights are stored as external data, the sha256 of the file
 * followed by each data file (in the order the model names them), so a changed weights file is a different model
 * and never a stale cache hit.
 */
export async function onnxModelSha256(file: string): Promise<string> {
  const bytes = await readFile(file);
  // Every external tensor names its file under the key "location"; a model without that string has none, which
  // spares decoding the common self-contained model.
  const dataFiles = bytes.includes('location') ? await externalDataFiles(decodeOnnxModel(bytes, file), file) : [];
  const hash = createHash('sha256').update(bytes);
  if (!dataFiles.length) return hash.digest('hex');
  for (const data of dataFiles) for await (const chunk of createReadStream(data)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
