import type { Command } from 'commander';
import { scanDataset } from '../../data/scan-dataset.js';
import { backboneFromOptions } from '../../engine/open-backbone.js';
import { extractFeatures } from '../../features/extract-features.js';
import { FeatureStore } from '../../features/feature-store.js';
import { FileHashIndex } from '../../features/file-hash-index.js';
import { addBackboneOptions, backboneOptionsFrom, parseInteger, type BackboneFlags } from '../options.js';
import { printResult, reportFailure } from '../output.js';
import { renderProgress } from '../render-progress.js';

/** `graft embed --json` output (a JSON contract). */
export interface EmbedResult {
  images: number;
  computed: number;
  cached: number;
  seconds: number;
  backbone_seconds: number;
  img_per_s: number;
  skipped: { file: string; reason: string }[];
  cache: string;
}

export function registerEmbed(program: Command): void {
  const command = program
    .command('embed')
    .description('compute backbone features for a dataset into the feature cache (no training)')
    .argument('<dir>', 'images: class sub-folders or a CSV')
    .option('--batch-size <n>', 'images per backbone call (default 16)', parseInteger)
    .option('--concurrency <n>', 'images decoded at once (default 4)', parseInteger);
  addBackboneOptions(command).action(async (dir: string, flags: BackboneFlags & { batchSize?: number; concurrency?: number }) => {
    const progress = renderProgress({ quiet: flags.json && !process.stderr.isTTY });
    try {
      const options = backboneOptionsFrom(flags, progress);
      const dataset = await scanDataset(dir);
      const handle = await backboneFromOptions(options);
      const store = FeatureStore.open(options.cacheDir);
      const fileIndex = FileHashIndex.open(options.cacheDir);
      try {
        const r = await extractFeatures(dataset.items.map((i) => i.file), handle, store, { fileIndex, onProgress: progress, batchSize: flags.batchSize, concurrency: flags.concurrency });
        const skipped = [...dataset.skipped, ...r.skipped];
        const result: EmbedResult = {
          images: dataset.items.length,
          computed: r.computed,
          cached: r.cached,
          seconds: Math.round(r.seconds * 1000) / 1000,
          backbone_seconds: Math.round(r.backboneSeconds * 1000) / 1000,
          img_per_s: Math.round((r.computed / Math.max(r.seconds, 1e-9)) * 10) / 10,
          skipped,
          cache: store.path,
        };
        progress.stop();
        printResult(flags.json, result, () =>
          [
            `${result.images} images: ${result.computed} computed, ${result.cached} cached, ${skipped.length} skipped in ${result.seconds.toFixed(2)} s (${result.img_per_s} img/s computed)`,
            ...skipped.map((s) => `  skipped ${s.file}: ${s.reason}`),
            `cache: ${result.cache}`,
          ].join('\n'),
        );
      } finally {
        store.close();
        fileIndex.close();
      }
    } catch (error) {
      progress.stop();
      reportFailure(error, flags.json);
    }
  });
}
