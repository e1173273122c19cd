import type { Command } from 'commander';
import { listDataset } from '../../data/dataset-listing.js';
import { backboneFromOptions, type BackboneHandle } from '../../engine/open-backbone.js';
import { featureBackbone } from '../../engine/feature-backbone.js';
import { extractFeatures } from '../../features/extract-features.js';
import { FeatureStore } from '../../features/feature-store.js';
import { FileHashIndex } from '../../features/file-hash-index.js';
import { embedShard, type EmbedShardResult } from '../../features/embed-shard.js';
import { parseShardSpec, SINGLE_SHARD, type ShardSpec } from '../../features/shard-spec.js';
import { GraftError } from '../../core/errors.js';
import { cancelOnSignal } from '../until-signal.js';
import { addBackboneOptions, backboneOptionsFrom, parseNumber, parsePositiveInteger, type BackboneFlags } from '../options.js';
import { printable, printResult, reportFailure } from '../output.js';
import { renderProgress } from '../render-progress.js';
import { onnxModelOf } from '../../engine/onnx-model-of.js';
import { roundSeconds } from '../../core/round-seconds.js';

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

/** `graft embed --store --json` output (a JSON contract). */
export interface EmbedShardJson {
  shard: ShardSpec;
  file: string;
  listed: number;
  images: number;
  computed: number;
  cached: number;
  removed: number;
  resumed_from: EmbedShardResult['resumedFrom'];
  published: boolean;
  checkpoints: number;
  seconds: number;
  backbone_seconds: number;
  img_per_s: number;
  skipped: { file: string; reason: string }[];
}

interface EmbedFlags extends BackboneFlags {
  multiScale: boolean;
  mirror: boolean;
  batchSize?: number;
  concurrency?: number;
  store?: string;
  shard?: string;
  shardCount?: number;
  checkpointSeconds?: number;
  workDir?: string;
}

export function registerEmbed(program: Command): void {
  const command = program
    .command('embed')
    .description('compute backbone features for a dataset: into the feature cache, or with --store into shard files (one per --shard) for a cluster')
    .argument('<data>', 'images: class sub-folders (optionally under train/ and val/), or a manifest of path,label (.csv, .jsonl)')
    .option('--batch-size <n>', 'images per backbone call (default 16)', parsePositiveInteger)
    .option('--concurrency <n>', 'images decoded at once (default 4)', parsePositiveInteger)
    .option('--store <dir>', 'write features into shard files in this folder (a shared volume on a cluster) instead of the cache')
    .option('--shard <i/n|auto>', 'compute shard i of n (0-based) into --store; auto: i from JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs)')
    .option('--shard-count <n>', 'number of shards for --shard auto (default: $GRAFT_SHARD_COUNT)', parsePositiveInteger)
    .option('--checkpoint-seconds <s>', 'least seconds between published checkpoints a restarted shard resumes from (default 5)', parseNumber)
    .option('--work-dir <dir>', 'local folder for the shard being written (default: the OS temp folder; never the store)')
    .option('--no-multi-scale', 'features at one scale (graft train --no-multi-scale reads these); default: two scales, as graft train uses')
    .option('--no-mirror', "cache: skip each image's mirror image (graft train uses it unless --mirror off --tta off)");
  addBackboneOptions(command).action(async (dir: string, flags: EmbedFlags) => {
    const progress = renderProgress({ quiet: flags.json && !process.stderr.isTTY });
    // SIGTERM (a Kubernetes pod stopped) or Ctrl+C: what was computed is kept (a shard's progress published as a
    // checkpoint, the cache's vectors stored), then exit 130 or 143.
    const cancel = cancelOnSignal();
    try {
      const options = backboneOptionsFrom(flags, progress);
      if (flags.store !== undefined || flags.shard !== undefined) {
        if (flags.store === undefined) {
          throw new GraftError('INVALID_CONFIG', `--shard ${flags.shard} needs --store <dir>: each shard is written as its own file there.`, {
            hint: 'e.g. graft embed photos/ --store features/ --shard 0/4',
          });
        }
        if (flags.shardCount !== undefined && flags.shard !== 'auto') {
          throw new GraftError('INVALID_CONFIG', `--shard-count goes with --shard auto (the index from $JOB_COMPLETION_INDEX); with --shard ${flags.shard ?? '(none)'} it would be ignored.`, {
            hint: `pass --shard auto --shard-count ${flags.shardCount}, or --shard <i>/${flags.shardCount}`,
          });
        }
        if (flags.shard === undefined && process.env.JOB_COMPLETION_INDEX !== undefined) {
          progress({ type: 'warning', code: 'SHARD_NOT_AUTO', message: `JOB_COMPLETION_INDEX=${process.env.JOB_COMPLETION_INDEX} is set but --shard is not: this process embeds the whole dataset (pass --shard auto to take its index)` });
        }
        const shard = flags.shard === undefined
          ? SINGLE_SHARD
          : parseShardSpec(flags.shard, { index: process.env.JOB_COMPLETION_INDEX, count: flags.shardCount?.toString() ?? process.env.GRAFT_SHARD_COUNT });
        const handle = await featureHandle(options, flags);
        const r = await embedShard(handle, {
          signal: cancel.signal,
          data: dir,
          storeDir: flags.store,
          shard,
          batchSize: flags.batchSize,
          concurrency: flags.concurrency,
          checkpointSeconds: flags.checkpointSeconds,
          workDir: flags.workDir,
          onProgress: progress,
        });
        const result: EmbedShardJson = {
          shard: r.shard,
          file: r.file,
          listed: r.listed,
          images: r.images,
          computed: r.computed,
          cached: r.reused,
          removed: r.removed,
          resumed_from: r.resumedFrom,
          published: r.isPublished,
          checkpoints: r.checkpoints,
          seconds: roundSeconds(r.seconds),
          backbone_seconds: roundSeconds(r.backboneSeconds),
          img_per_s: Math.round((r.computed / Math.max(r.seconds, 1e-9)) * 10) / 10,
          skipped: [...r.scanSkipped, ...r.skipped],
        };
        progress.stop();
        printResult(flags.json, result, () =>
          [
            `shard ${r.shard.index}/${r.shard.count}: ${r.images} of ${r.listed} images, ${r.computed} computed, ${r.reused} kept from the store${r.resumedFrom === 'partial' ? ' (resumed from a checkpoint)' : ''}, ${result.skipped.length} skipped in ${result.seconds.toFixed(2)} s (${result.img_per_s} img/s computed)`,
            ...result.skipped.map((s) => `  skipped ${printable(s.file)}: ${s.reason}`),
            `${r.isPublished ? 'published' : 'up to date'}: ${r.file}`,
          ].join('\n'),
        );
        return;
      }
      // Listed as --store lists it: a split folder's parts (train/ and val/), or a manifest's rows, all embedded.
      const listing = await listDataset(dir);
      const files: string[] = [];
      for await (const image of listing.images()) files.push(image.file);
      const handle = await featureHandle(options, flags);
      const store = FeatureStore.open(options.cacheDir);
      const fileIndex = FileHashIndex.open(options.cacheDir);
      try {
        const r = await extractFeatures(files, handle, store, { fileIndex, mirror: flags.mirror, onProgress: progress, batchSize: flags.batchSize, concurrency: flags.concurrency, signal: cancel.signal });
        const skipped = [...listing.scanSkipped, ...r.skipped];
        const result: EmbedResult = {
          images: files.length,
          computed: r.computed,
          cached: r.cached,
          seconds: roundSeconds(r.seconds),
          backbone_seconds: roundSeconds(r.backboneSeconds),
          img_per_s: Math.round((r.computed / Math.max(r.seconds, 1e-9)) * 10) / 10,
          skipped,
          cache: store.path,
        };
        progress.stop();
        printResult(flags.json, result, () =>
          [
            `${result.images} images: ${result.computed} computed, ${result.cached} cached, ${skipped.length} skipped in ${result.seconds.toFixed(2)} s (${result.img_per_s} img/s computed)`,
            ...skipped.map((s) => `  skipped ${printable(s.file)}: ${s.reason}`),
            `cache: ${result.cache}`,
          ].join('\n'),
        );
      } finally {
        store.close();
        fileIndex.close();
      }
    } catch (error) {
      progress.stop();
      reportFailure(error, flags.json, cancel.received);
    } finally {
      cancel.dispose();
    }
  });
}

/** The backbone as `graft train` sees it by default (two scales), so the features embedded here are the ones it reads. */
async function featureHandle(options: ReturnType<typeof backboneOptionsFrom>, flags: EmbedFlags): Promise<BackboneHandle> {
  const handle = await backboneFromOptions(options);
  return featureBackbone(handle, await onnxModelOf(handle), { multiScale: flags.multiScale, engine: options.engine, onProgress: options.onProgress });
}
