import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { cloneOnnxModel, decodeOnnxModel, encodeOnnxModel } from '../../src/onnx/onnx-model.js';
import { hasShared, int8Model, skipReason } from '../support.js';

describe.skipIf(!hasShared)('cloneOnnxModel', () => {
  skipReason('cloning a real ONNX model');

  it('copies a real model so that graph edits never reach the original, sharing only tensor bytes', async () => {
    const bytes = await readFile(int8Model);
    const original = decodeOnnxModel(bytes, int8Model);
    const clone = cloneOnnxModel(original);
    const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;
    const encoded = encodeOnnxModel(original);
    expect(same(encodeOnnxModel(clone), encoded)).toBe(true);
    const graph = original.graph!;
    const nodes = graph.node!.length;
    const firstInit = graph.initializer![0]!;
    const dims = [...firstInit.dims!];
    // Edit the clone the ways surgery does: drop and rename nodes, replace an initializer, change dims and outputs.
    clone.graph!.node!.pop();
    clone.graph!.node![0]!.name = 'renamed';
    clone.graph!.node![0]!.input!.push('extra');
    clone.graph!.initializer![0] = { ...clone.graph!.initializer![0]!, name: 'replaced' } as never;
    clone.graph!.initializer![1]!.dims!.push(7);
    clone.graph!.output = [];
    expect(graph.node!.length).toBe(nodes);
    expect(graph.node![0]!.name).not.toBe('renamed');
    expect(graph.node![0]!.input).not.toContain('extra');
    expect(graph.initializer![0]).toBe(firstInit);
    expect([...graph.initializer![0]!.dims!]).toEqual(dims);
    expect(graph.initializer![1]!.dims).not.toContain(7);
    expect(graph.output!.length).toBeGreaterThan(0);
    expect(same(encodeOnnxModel(original), encoded)).toBe(true);
    expect(same(encodeOnnxModel(clone), encoded)).toBe(false);
  });
});
