import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ModelFormat } from '../../src/core/model-format.js';
import { detectFormat } from '../../src/formats/detect-format.js';
import { MODEL_FORMATS } from '../../src/formats/model-formats.js';
import { FORMAT_ENTRIES, formatEntry } from '../../src/formats/registry.js';
import { hasShared, int8Model, sharedDir, tempDir } from '../support.js';

describe('the format registry', () => {
  it('has one entry per ModelFormat, under its own name, in detection order', () => {
    const all: readonly ModelFormat[] = ['keras-h5', 'tfjs-graph', 'tfjs-layers', 'onnx'];
    expect(MODEL_FORMATS).toEqual(all);
    for (const name of all) expect(formatEntry(name).name).toBe(name);
    expect(FORMAT_ENTRIES.filter((e) => e.storage === 'file').map((e) => e.name)).toEqual(['keras-h5', 'onnx']);
    expect(() => formatEntry('caffe' as ModelFormat)).toThrow(/Must be one of: keras-h5, tfjs-graph, tfjs-layers, onnx/);
  });

  describe('detectFormat asks every entry', () => {
    let root: string;
    beforeAll(async () => {
      root = await tempDir('graft-registry-');
    });

    it('names every format tried and why each declined', async () => {
      const file = join(root, 'notes.bin');
      await writeFile(file, 'not a model');
      const error = await detectFormat(file).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'UNSUPPORTED_MODEL' });
      const message = (error as Error).message;
      for (const name of MODEL_FORMATS) expect(message).toContain(`${name}: `);
      expect(message).toMatch(/keras-h5: no HDF5 signature; tfjs-graph: not a model.json; tfjs-layers: not a model.json; onnx: not a protobuf/);
    });

    it('tells graph from layers model.json by topology, and a folder by its one model file', async () => {
      await mkdir(join(root, 'graph'));
      await writeFile(join(root, 'graph', 'model.json'), JSON.stringify({ modelTopology: { node: [] } }));
      expect(await detectFormat(join(root, 'graph'))).toEqual({ format: 'tfjs-graph', path: join(root, 'graph', 'model.json') });
      await mkdir(join(root, 'layers'));
      await writeFile(join(root, 'layers', 'model.json'), JSON.stringify({ modelTopology: { class_name: 'Sequential' } }));
      expect((await detectFormat(join(root, 'layers'))).format).toBe('tfjs-layers');
      await mkdir(join(root, 'two'));
      await writeFile(join(root, 'two', 'a.onnx'), Buffer.from([0x08, 0x07]));
      await writeFile(join(root, 'two', 'b.h5'), 'x');
      await expect(detectFormat(join(root, 'two'))).rejects.toThrow(/holds no model.json and 2 model files/);
    });

    it.skipIf(!hasShared)('recognises the real models of every format', async () => {
      expect((await detectFormat(int8Model)).format).toBe('onnx');
      expect((await detectFormat(join(sharedDir, 'models/tm-mobilenetv2-035/base'))).format).toBe('tfjs-layers');
      expect((await detectFormat(join(sharedDir, 'models/mobilenet-v1-025-tfjs/graph'))).format).toBe('tfjs-graph');
      expect((await detectFormat(join(sharedDir, 'models/tm-keras-h5/emir-guven-fixoria/keras_Model.h5'))).format).toBe('keras-h5');
    });
  });
});
