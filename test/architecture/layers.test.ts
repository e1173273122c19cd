import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support.js';
import { importCircles, importEdges, moduleOf, type ImportEdge } from './import-graph.js';

/**
 * The floors of src/, lowest first: this list is the one place the layer order is written (ARCHITECTURE.md
 * explains it). A module may import modules on lower floors and never one on its own floor or above; modules that
 * share a floor are independent of each other.
 */
const FLOORS: readonly (readonly string[])[] = [
  ['core'], // errors, progress events, atomic writes, seeded randomness, cache folder, preprocessing, shared types
  ['runtime'], // onnxruntime sessions and the tfjs backend, configured once
  ['onnx', 'data', 'metrics'], // the ONNX model and its surgery; datasets and decoding; pure scoring
  ['onnx-to-tfjs', 'readers'], // ONNX -> trainable tfjs; Keras .h5 and TF.js model folders
  ['onnx-to-layers', 'tfjs-to-onnx'], // ONNX -> TF.js layers model; TF.js layers/graph -> ONNX
  ['formats'], // the format registry: detect, locate, model id, features, conversions per format
  ['hub'], // the catalogue, resolving names/paths/URLs, downloads and mirrors
  ['engine', 'convert'], // backbones opened and run; the graft convert use case
  ['features'], // feature extraction, the cache, shard stores
  ['learn', 'model'], // heads and fine-tuning; model directories (save, load, predict, evaluate)
  ['recipes'], // train(), trainFromFeatures(): data -> backbone -> features -> fit -> evaluate -> save
  ['report'], // the HTML report
  ['web', 'serve'], // the web export; the HTTP server and dashboard
  ['cli'], // argv -> options, events -> terminal, the environment -> options
  ['index'], // the package's public entry
];

/**
 * Edges that break the floors today, each with the change that removes it. The list may only shrink: the test
 * fails when an edge listed here no longer exists, so that it is taken off.
 */
const ALLOWED: readonly (ImportEdge & { readonly why: string })[] = [];

/** Import circles present today, each with the change that ends it; like ALLOWED, the list only shrinks. */
const ALLOWED_CIRCLES: readonly { readonly files: readonly string[]; readonly why: string }[] = [];

const srcDir = join(repoRoot, 'src');
const edges = importEdges(srcDir);
const floorOf = new Map(FLOORS.flatMap((modules, floor) => modules.map((m) => [m, floor] as const)));
const key = (e: ImportEdge): string => `${e.from} -> ${e.to}`;

describe('the floors of src/', () => {
  it('every module of src/ has a floor', () => {
    const modules = readdirSync(srcDir).filter((name) => statSync(join(srcDir, name)).isDirectory() || name.endsWith('.ts')).map((name) => moduleOf(name));
    expect(modules.filter((m) => !floorOf.has(m)), 'modules missing from FLOORS').toEqual([]);
  });

  it('no module imports one on its own floor or above, except the listed edges', () => {
    const allowed = new Set(ALLOWED.map(key));
    const upward = edges.filter((e) => {
      const [from, to] = [moduleOf(e.from), moduleOf(e.to)];
      return from !== to && floorOf.get(to)! >= floorOf.get(from)! && !allowed.has(key(e));
    });
    expect(upward.map((e) => `${key(e)} (${moduleOf(e.from)} is on floor ${floorOf.get(moduleOf(e.from))}, ${moduleOf(e.to)} on ${floorOf.get(moduleOf(e.to))})`)).toEqual([]);
  });

  it('the allowed upward edges all still exist (the list only shrinks)', () => {
    const present = new Set(edges.map(key));
    expect(ALLOWED.filter((e) => !present.has(key(e))).map((e) => `${key(e)}: gone, take it off ALLOWED (${e.why})`)).toEqual([]);
  });

  it('no import circles between files, except the listed ones, which all still exist', () => {
    const circles = importCircles(edges).map((files) => files.join(' <-> '));
    const allowed = ALLOWED_CIRCLES.map((c) => [...c.files].sort().join(' <-> '));
    expect(circles.filter((c) => !allowed.includes(c))).toEqual([]);
    expect(allowed.filter((c) => !circles.includes(c)).map((c) => `${c}: gone, take it off ALLOWED_CIRCLES`)).toEqual([]);
  });

  it('every import points at a file that exists', () => {
    expect(edges.filter((e) => !existsSync(join(srcDir, e.to))).map(key)).toEqual([]);
  });
});

describe('the import graph reader', () => {
  it('finds a circle and ignores a chain', () => {
    const chain: ImportEdge[] = [{ from: 'a.ts', to: 'b.ts' }, { from: 'b.ts', to: 'c.ts' }];
    expect(importCircles(chain)).toEqual([]);
    expect(importCircles([...chain, { from: 'c.ts', to: 'a.ts' }])).toEqual([['a.ts', 'b.ts', 'c.ts']]);
    expect(importCircles([{ from: 'a.ts', to: 'a.ts' }])).toEqual([['a.ts']]);
  });
});
