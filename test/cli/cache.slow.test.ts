import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CacheClearJson, CacheInfoJson } from '../../src/cli/commands/cache.js';
import { copySubset, hasShared, hymenoptera, parseJsonOutput, runCli, sharedDir, skipReason, tempDir } from '../support.js';

interface TrainJson {
  features: { computed: number; cached: number };
}

skipReason('graft cache on a real cache');
describe.skipIf(!hasShared)('graft cache info | clear', () => {
  it('shows the features per backbone and the downloaded backbone; clear empties what is computed again, --models the downloads', async () => {
    const root = await tempDir('graft-cache-cmd-');
    const cache = join(root, 'cache');
    const zoo = 'https://github.com/onnx/models/raw/main/validated/vision/classification/mobilenet/model/';
    // The catalogue's default backbone, "downloaded" from a local mirror of the zoo (offline).
    const env = { GRAFT_CACHE_DIR: cache, GRAFT_HUB_MIRROR: `${zoo}=${join(sharedDir, 'models/mobilenetv2-int8-onnx')}/`, GRAFT_MODELS_DIR: '' };
    const data = await copySubset(join(hymenoptera, 'train'), join(root, 'data'), 4);

    const empty = await runCli(['cache', 'info', '--json'], env);
    expect(empty.code, empty.stderr).toBe(0);
    expect(parseJsonOutput<CacheInfoJson>(empty)).toMatchObject({ total_bytes: 0, features: null, file_index: null, models: [] });
    expect(existsSync(cache)).toBe(false); // looking creates nothing

    const first = await runCli(['train', data, '--out', join(root, 'model'), '--json'], env);
    expect(first.code, first.stderr).toBe(0);
    const computed = parseJsonOutput<TrainJson>(first).features.computed;
    expect(computed).toBeGreaterThan(0);

    const info = parseJsonOutput<CacheInfoJson>(await runCli(['cache', 'info', '--json'], env));
    expect(info.features?.entries).toBeGreaterThanOrEqual(8);
    expect(info.features?.models).toEqual([expect.objectContaining({ name: 'mobilenet_v2', dim: 2560, entries: info.features?.entries })]);
    expect(info.file_index?.bytes).toBeGreaterThan(0);
    expect(info.models.map((m) => m.folder)).toEqual(['mobilenet_v2']);
    expect(info.models[0]!.bytes).toBeGreaterThan(3_000_000);
    const text = await runCli(['cache', 'info'], env);
    expect(text.stdout).toMatch(/features +\d+ vectors/);
    expect(text.stdout).toMatch(/x 2560-d +mobilenet_v2/);

    const cleared = parseJsonOutput<CacheClearJson>(await runCli(['cache', 'clear', '--json'], env));
    expect(cleared).toMatchObject({ features_removed: info.features?.entries, file_hashes_removed: 8, models_removed: [] });
    expect(cleared.bytes_after).toBeLessThan(cleared.bytes_before);
    const after = parseJsonOutput<CacheInfoJson>(await runCli(['cache', 'info', '--json'], env));
    expect(after.features?.entries).toBe(0);
    expect(after.models.map((m) => m.folder)).toEqual(['mobilenet_v2']); // kept: it would need the network

    // The next run computes every feature again, and finds the backbone where it was.
    const again = await runCli(['train', data, '--out', join(root, 'model'), '--json'], env);
    expect(again.code, again.stderr).toBe(0);
    expect(parseJsonOutput<TrainJson>(again).features).toMatchObject({ computed, cached: 0 });

    const all = parseJsonOutput<CacheClearJson>(await runCli(['cache', 'clear', '--models', '--json'], env));
    expect(all.models_removed).toEqual(['mobilenet_v2']);
    expect(existsSync(join(cache, 'models', 'mobilenet_v2'))).toBe(false);
  }, 180_000);
});
