// `graft serve` hot-reloading a model folder that `graft train --out` replaces: replaceDirectory's two renames leave
// a moment with no folder, and a reload that lands in it, or reads one folder's graft.json and the next one's
// model.onnx, must wait for the new folder rather than fail. A real server on loopback, real folders swapped.
import { cp, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recipes, type learn } from '../../src/index.js';
import { ModelRegistry, type ModelRegistryEvent } from '../../src/serve/model-registry.js';
import { startServer, type GraftServer } from '../../src/serve/start-server.js';
import { hasShared, int8Model, skipReason, tempDir } from '../support.js';

const TWO = ['ants', 'bees'];
const THREE = ['ants-v2', 'bees-v2', 'wasps-v2'];

/** A head on the int8 backbone's 2560 features: its weights matter not, its number of outputs does. */
function head(classes: number): learn.DenseLayerWeights {
  const weight = Float32Array.from({ length: 2560 * classes }, (_, i) => ((i % 7) - 3) * 0.002);
  return { inputDim: 2560, outputDim: classes, weight, bias: new Float32Array(classes), activation: 'softmax' };
}

skipReason('hot reloads of swapped model folders');
describe.skipIf(!hasShared)('graft serve reloading a model folder replaced under it', () => {
  let root = '';
  let server: GraftServer;
  const events: ModelRegistryEvent[] = [];
  const live = (): string => join(root, 'live');

  beforeAll(async () => {
    root = await tempDir('graft-reload-swap-');
    const cacheDir = join(root, 'cache');
    // Two models of different label counts: graft.json of one with model.onnx of the other cannot load.
    await recipes.saveHeadModel({ backbone: int8Model, cacheDir, labels: TWO, head: [head(2)], out: join(root, 'two') });
    await recipes.saveHeadModel({ backbone: int8Model, cacheDir, labels: THREE, head: [head(3)], out: join(root, 'three') });
    await cp(join(root, 'two'), live(), { recursive: true });
    server = await startServer({ models: [live()], port: 0, reloadPollMs: 50, onEvent: (event) => events.push(event) });
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  const servedLabels = async (): Promise<string[]> => ((await (await fetch(`${server.url}/v1/models/live`)).json()) as { labels: string[] }).labels;
  async function waitForLabels(labels: string[]): Promise<void> {
    for (let i = 0; i < 100 && JSON.stringify(await servedLabels()) !== JSON.stringify(labels); i++) await sleep(50);
    expect(await servedLabels()).toEqual(labels);
  }
  const failures = (): ModelRegistryEvent[] => events.filter((event) => event.type === 'reload-failed');

  it('a reload that finds the folder gone waits for the new one to be put in place', async () => {
    // The gap forced and held: the old folder moved aside, the watcher fires and its reload starts (50 ms polls, a
    // 100 ms debounce), and only then the new folder is renamed in, as replaceDirectory's second rename does.
    await cp(join(root, 'three'), join(root, 'live.staging'), { recursive: true });
    await rename(live(), join(root, 'live.old'));
    await sleep(400);
    await rename(join(root, 'live.staging'), live());
    await waitForLabels(THREE);
    expect(failures()).toEqual([]);
    expect(events.at(-1)).toEqual({ type: 'reload', model: 'live', labels: THREE });
  });

  it('reloads during repeated swaps each load one whole model, and none fails', async () => {
    // Swaps as replaceDirectory makes them (the folder moved aside, the new one renamed in), the moment between the
    // two renames held 0 to 4 ms, at 20 to 120 ms, while reloads run back to back; the two models differ in label
    // count, so one's graft.json with the other's model.onnx fails its check. The server's own registry, called
    // directly: the watcher's timing would only space the reloads out.
    const dir = join(root, 'swapped');
    await cp(join(root, 'two'), dir, { recursive: true });
    await cp(join(root, 'three'), join(root, 'swapped.next'), { recursive: true });
    const seen: ModelRegistryEvent[] = [];
    const registry = await ModelRegistry.open({ models: [dir], watch: false, onEvent: (event) => seen.push(event) });
    let isSwapping = true;
    let swaps = 0;
    const swapping = (async () => {
      for (let i = 0; i < 40; i++) {
        await rename(dir, join(root, 'swapped.aside'));
        await sleep(i % 5);
        await rename(join(root, 'swapped.next'), dir);
        await rename(join(root, 'swapped.aside'), join(root, 'swapped.next'));
        swaps++;
        await sleep(20 + ((i * 37) % 100));
      }
      isSwapping = false;
    })();
    try {
      while (isSwapping) {
        await registry.reload('swapped');
        await sleep(5); // a reload that fails at once must not starve the swaps' timers
      }
      await swapping;
      await registry.reload('swapped');
      const labels = JSON.parse(await readFile(join(dir, 'graft.json'), 'utf8')) as { labels: string[] };
      expect(registry.describe('swapped').version.labels).toEqual(labels.labels);
    } finally {
      await registry.close();
    }
    expect(swaps).toBe(40);
    expect(seen.filter((event) => event.type === 'reload-failed')).toEqual([]);
    expect(seen.length).toBeGreaterThan(10);
  }, 30_000);
});
