import { execFile } from 'node:child_process';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { preprocessingHash } from '../../src/core/preprocessing.js';
import { CATALOGUE } from '../../src/hub/catalogue.js';
import { backboneFromOptions } from '../../src/engine/open-backbone.js';
import { writeSyntheticShards } from '../../src/features/synthetic-shards.js';
import { trainFromFeatures } from '../../src/recipes/train-from-features.js';
import type { ShardMeta } from '../../src/features/shard-store.js';
import { SAME_YOUNG_GENERATION } from '../peak-rss.js';
import { hasShared, int8Model, parseJsonOutput, repoRoot, runCli, skipReason, tempDir } from '../support.js';

/** Synthetic 1280-d rows that claim to come from the int8 MobileNetV2 (one view: train them with multiScale off). */
async function syntheticStore(rows: number, cacheDir: string, source?: string): Promise<string> {
  const { info } = await backboneFromOptions({ backbone: int8Model, cacheDir });
  const model: ShardMeta['model'] = { name: info.name, source: source ?? info.source, sha256: info.sha256, featureDim: info.featureDim, preprocessing: info.preprocessing, preprocessingHash: preprocessingHash(info.preprocessing) };
  const dir = join(await tempDir('graft-streamed-store-'), `rows-${rows}`);
  await writeSyntheticShards(dir, { rows, shards: 3, classes: 5, valFraction: 0.1, model, seed: 3 });
  return dir;
}

/** Peak RSS (MB) of a fresh Node process that trains the store streamed through the built library. */
async function peakRssOfStreamedTrain(store: string, out: string, cacheDir: string, head: { hidden: number[] } = { hidden: [] }): Promise<number> {
  const script = `
    const { trainFromFeatures } = await import(${JSON.stringify(join(repoRoot, 'dist/recipes/train-from-features.js'))});
    await trainFromFeatures({ features: ${JSON.stringify(store)}, out: ${JSON.stringify(out)}, cacheDir: ${JSON.stringify(cacheDir)},
      config: { multiScale: false, c: 0.01, epochs: 2, head: ${JSON.stringify(head)} }, inMemoryRows: 1000, selectionRows: 1000 });
    console.log(JSON.stringify({ peakMb: process.resourceUsage().maxRSS / 1024 }));`;
  const { stdout } = await promisify(execFile)(process.execPath, [...SAME_YOUNG_GENERATION, '--input-type=module', '-e', script], { maxBuffer: 1 << 20 });
  return (JSON.parse(stdout.trim().split('\n').pop()!) as { peakMb: number }).peakMb;
}

describe.skipIf(!hasShared)('training from a store larger than memory is given (issue 10)', () => {
  skipReason('streamed head training');

  it('fits the head streamed from a local copy of the rows, to the optimum the in-memory fit reaches', async () => {
    const root = await tempDir('graft-streamed-');
    const cacheDir = join(root, 'cache');
    const store = await syntheticStore(4000, cacheDir);
    const config = { multiScale: false, c: 0.01 };
    const inMemory = await trainFromFeatures({ features: store, out: join(root, 'in-memory'), cacheDir, config });
    // A copy a killed run left (its process gone) is removed; one of a process still running is not.
    const { mkdir: makeDir, readdir } = await import('node:fs/promises');
    const [orphan, live] = [join(root, 'graft-rows-4194000-AbC123'), join(root, `graft-rows-${process.ppid}-XyZ789`)];
    for (const folder of [orphan, live]) await makeDir(folder);
    const events: string[] = [];
    const streamed = await trainFromFeatures({
      features: store,
      out: join(root, 'streamed'),
      cacheDir,
      config,
      inMemoryRows: 1000,
      selectionRows: 1500,
      workDir: root,
      onProgress: (e) => e.type === 'info' && events.push(e.message),
    });
    expect(events.some((m) => /copying them to a local file to fit the head streamed/.test(m))).toBe(true);
    expect(events.some((m) => /full fit on \d+ rows: pass \d+/.test(m))).toBe(true);
    expect(streamed.images).toEqual(inMemory.images);
    expect(streamed.selection?.sample).toEqual({ rows: 1500, of: streamed.images.train });
    // Same problem (C fixed), both solved to sklearn's tolerance: the heads agree on every val row's class and closely on its probabilities.
    expect(streamed.val!.accuracy).toBe(inMemory.val!.accuracy);
    expect(Math.abs(streamed.val!.loss - inMemory.val!.loss)).toBeLessThan(1e-3);
    // The local copy is removed once the head is fitted.
    expect((await readdir(root)).filter((f) => f.startsWith('graft-rows-'))).toEqual([`graft-rows-${process.ppid}-XyZ789`]);
  });

  it('finds a catalogue backbone by its name, offline, where the store recorded its download address', async () => {
    const root = await tempDir('graft-store-offline-');
    const cacheDir = join(root, 'cache');
    // What `graft embed --backbone mobilenet_v2` leaves: the model cached under its name, the store naming its URL.
    await mkdir(join(cacheDir, 'models/mobilenet_v2'), { recursive: true });
    await copyFile(int8Model, join(cacheDir, 'models/mobilenet_v2/mobilenetv2-12-int8.onnx'));
    const store = await syntheticStore(200, cacheDir, CATALOGUE.mobilenet_v2.url);
    // Before: "... is not in the cache (.../url-<hash>/...) and offline mode is on".
    const trained = await trainFromFeatures({ features: store, out: join(root, 'model'), cacheDir, offline: true, config: { multiScale: false, c: 0.01 } });
    expect(trained.backbone.name).toBe('mobilenet_v2');
  });

  it('has no corner crops to train on: --crops on is refused, --crops auto warns and trains without them', async () => {
    const root = await tempDir('graft-store-crops-');
    const cacheDir = join(root, 'cache');
    const store = await syntheticStore(300, cacheDir);
    await expect(trainFromFeatures({ features: store, out: join(root, 'on'), cacheDir, config: { multiScale: false, crops: 'on' } })).rejects.toThrow(/feature store holds no corner crops/);
    const warnings: string[] = [];
    const trained = await trainFromFeatures({ features: store, out: join(root, 'auto'), cacheDir, config: { multiScale: false, crops: 'auto' }, onProgress: (e) => e.type === 'warning' && warnings.push(`${e.code}: ${e.message}`) });
    expect(warnings).toEqual(["CROP_ROWS_SKIPPED: crops: 'auto' (--crops auto) skipped: a feature store holds no corner crops"]);
    expect(trained.head.trainViews).toBe('plain');
  });

  it('chooses C on a stratified sample, says so in --json and graft.json, refits on every row; the MLP trains streamed too', async () => {
    const root = await tempDir('graft-streamed-cli-');
    const cacheDir = join(root, 'cache');
    const store = await syntheticStore(6000, cacheDir);
    const run = await runCli(['train', '--store', store, '--no-multi-scale', '--in-memory-rows', '2000', '--selection-rows', '2000', '--work-dir', root, '--out', join(root, 'm'), '--json'], { GRAFT_CACHE_DIR: cacheDir });
    expect(run.code).toBe(0);
    const json = parseJsonOutput<{ selection: { sample?: { rows: number; of: number }; table: unknown[] } }>(run);
    expect(json.selection.sample?.rows).toBe(2000);
    expect(json.selection.sample!.of).toBeGreaterThan(5000);
    expect(json.selection.table.length).toBeGreaterThan(0);
    const manifest = JSON.parse(await readFile(join(root, 'm/graft.json'), 'utf8')) as { training: { outcome: { selection: { sample?: unknown } } } };
    expect(manifest.training.outcome.selection.sample).toEqual(json.selection.sample);
    // The MLP head trains streamed too: batches gathered from the local copy, its held-out fifth scored in blocks.
    const mlp = await runCli(['train', '--store', store, '--no-multi-scale', '--in-memory-rows', '2000', '--hidden', '64', '--epochs', '4', '--out', join(root, 'mlp'), '--json'], { GRAFT_CACHE_DIR: cacheDir });
    expect(mlp.code).toBe(0);
    const mlpJson = parseJsonOutput<{ head: { kind: string }; history: unknown[]; val: { accuracy: number } }>(mlp);
    expect(mlpJson.head.kind).toBe('mlp');
    expect(mlpJson.history.length).toBeGreaterThan(0);
    expect(mlpJson.val.accuracy).toBeGreaterThan(0.9);
    const misplaced = await runCli(['train', root, '--in-memory-rows', '10', '--out', join(root, 'x')], { GRAFT_CACHE_DIR: cacheDir });
    expect(misplaced.code).not.toBe(0);
    expect(misplaced.stderr).toMatch(/--in-memory-rows applies only to training from a feature store/);
  });

  it('keeps memory flat as rows grow, linear head and MLP: 2.5x the rows add under 3/4 of their floats in peak RSS', async () => {
    const root = await tempDir('graft-streamed-rss-');
    const cacheDir = join(root, 'cache');
    // Both sizes are past every block size (1024 rows for statistics and scoring, 4096 for the solver's passes).
    const small = await syntheticStore(16_000, cacheDir);
    const large = await syntheticStore(40_000, cacheDir);
    // An in-memory fit holds every row at least once: +117 MB here. Streamed, what grows is a few numbers per row and
    // the SQLite row buffers of the copy pass awaiting collection (bounded: ~300 MB flat from 100k to 1M rows in
    // bench/RESULTS.md), collected when V8 decides: measured -20 to +5 MB for the linear head, +21 to +69 MB for the
    // MLP (19 runs, Node 20, 2026-12-08), so the bound is 3/4 of the added floats, a fit holding them all goes past it.
    const addedFloatsMb = ((40_000 - 16_000) * 1280 * 4) / 1048576;
    for (const head of [{ hidden: [] }, { hidden: [32] }]) {
      const peakSmall = await peakRssOfStreamedTrain(small, join(root, `small-${head.hidden.length}`), cacheDir, head);
      const peakLarge = await peakRssOfStreamedTrain(large, join(root, `large-${head.hidden.length}`), cacheDir, head);
      expect(peakLarge - peakSmall, `${head.hidden.length ? 'MLP' : 'linear'}: ${peakSmall.toFixed(0)} MB -> ${peakLarge.toFixed(0)} MB`).toBeLessThan((addedFloatsMb * 3) / 4);
    }
  }, 240_000);
});
