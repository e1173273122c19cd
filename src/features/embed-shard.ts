import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { copyFile, readdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import type { SkippedFile } from '../data/dataset.js';
import { listDataset, type ListedImage } from '../data/dataset-listing.js';
import { readAndDecode } from '../data/decode-stream.js';
import { requireDistinctLabels, requireTwoClasses } from '../data/scan-folder.js';
import type { Backbone } from '../engine/backbone.js';
import type { BackboneHandle } from '../engine/open-backbone.js';
import { preprocessingHash } from '../core/preprocessing.js';
import { GraftError } from '../core/errors.js';
import type { ProgressListener } from '../core/progress.js';
import { embedBatch } from './embed-batch.js';
import { FileHashIndex, type FileStamp } from './file-hash-index.js';
import { publishFile } from './publish-file.js';
import { parseShardFileName, SINGLE_SHARD, shardFileName, shardOf, type ShardSpec } from './shard-spec.js';
import { SHARD_SCHEMA_VERSION, ShardStore, type ShardMeta, type ShardRow } from './shard-store.js';
import { makeWorkDir, removeWorkDir } from './work-dir.js';
import { makeDirectory } from '../core/make-directory.js';

/** Options for {@link embedShard}. */
export interface EmbedShardOptions {
  /** A class-per-folder directory (optionally with train/ and val/) or a `path,label` manifest (.csv, .jsonl). */
  readonly data: string;
  /** The store folder (may be on a shared network volume): shards are published here, one file each. */
  readonly storeDir: string;
  /** Which shard this process computes. Defaults to the whole dataset as shard 0 of 1. */
  readonly shard?: ShardSpec;
  /** Images per backbone call. Defaults to 16. */
  readonly batchSize?: number;
  /** Images read and decoded at once. Defaults to 4. */
  readonly concurrency?: number;
  /**
   * Least seconds between published checkpoints (`*.partial.sqlite`), from which a restarted shard resumes. Defaults
   * to 5. The interval also grows to 20x the time a publish takes, so copying never costs more than ~5% of the run.
   */
  readonly checkpointSeconds?: number;
  /** Local folder for the working copy (never the store folder). Defaults to the OS temp folder. */
  readonly workDir?: string;
  readonly onProgress?: ProgressListener;
  /**
   * Stops the run at the next batch (SIGTERM from Kubernetes, Ctrl+C): the vectors computed so far are published as
   * the shard's checkpoint, the working copy is removed, and the rerun resumes from there. GraftError `CANCELLED`.
   */
  readonly signal?: AbortSignal;
}

/** What {@link embedShard} did (the CLI prints it as `graft embed --store --json`). */
export interface EmbedShardResult {
  readonly shard: ShardSpec;
  /** The published shard file. */
  readonly file: string;
  /** Images in the whole dataset listing. */
  readonly listed: number;
  /** Images assigned to this shard. */
  readonly images: number;
  /** Vectors computed by the backbone in this run. */
  readonly computed: number;
  /** Images whose vector (or unreadable mark) was already in the shard and was kept. */
  readonly reused: number;
  /** Rows dropped because their image is no longer listed for this shard. */
  readonly removed: number;
  /** What this run started from: the published shard, a checkpoint of an interrupted run, or nothing. */
  readonly resumedFrom: 'complete' | 'partial' | null;
  /** False when the published shard was already up to date, so nothing was written. */
  readonly isPublished: boolean;
  readonly checkpoints: number;
  /** Assigned images that cannot be used, with the reason (kept in the shard, so a rerun does not retry them). */
  readonly skipped: SkippedFile[];
  /** Files the folder scan left out (not images, outside class folders). */
  readonly scanSkipped: readonly SkippedFile[];
  readonly seconds: number;
  readonly backboneSeconds: number;
}

/** Images handled per round of stat, read and lookup: bounds memory however long a manifest is. */
const CHUNK = 1024;
const DEFAULT_CHECKPOINT_SECONDS = 5;
const PUBLISH_COST_FACTOR = 20;

/**
 * Computes one shard of a dataset's features into its own store file (ARCHITECTURE.md decision 10).
 *
 * Every process lists the whole dataset in the same order and keeps the images whose relative path hashes to its
 * shard ({@link shardOf}), so N processes (e.g. the pods of a Kubernetes Indexed Job) split the work without talking.
 * The shard is written to a local working copy, never to the store folder: SQLite's locking is unsafe on network
 * filesystems. Checkpoints are published as `shard-i-of-n.partial.sqlite` while it runs, and the finished shard as
 * `shard-i-of-n.sqlite`, each by copy + fsync + rename ({@link publishFile}), so readers never see a torn file.
 *
 * A rerun resumes from the published shard or checkpoint: an image whose path, size and mtime match its row (or whose
 * content hash does) is not decoded or embedded again. A rerun with nothing new publishes nothing.
 *
 * @throws GraftError `INVALID_DATASET` when the store already holds this shard made with another model or
 *   preprocessing; `INVALID_CONFIG` when it holds shards of another count; `INVALID_DATASET` for the dataset problems
 *   `graft train` reports.
 */
export async function embedShard(handle: BackboneHandle, options: EmbedShardOptions): Promise<EmbedShardResult> {
  const started = performance.now();
  const spec = options.shard ?? SINGLE_SHARD;
  const storeDir = resolve(options.storeDir);
  const batchSize = options.batchSize ?? 16;
  const { info } = handle;
  const onProgress = options.onProgress;
  await makeFolder(storeDir);
  // A store of another shard count is another run's: its shards and this one's could never be trained together.
  const otherCount = (await readdir(storeDir)).map(parseShardFileName).find((found) => found !== undefined && found.count !== spec.count);
  if (otherCount) {
    throw new GraftError('INVALID_CONFIG', `${storeDir} holds shards of ${otherCount.count}, and this is shard ${spec.index}/${spec.count}: one store holds one set of shards`, {
      hint: `embed into another --store folder, or delete the ${otherCount.count} shards there first (graft features status ${storeDir} lists them)`,
    });
  }

  // Pass 1: the whole listing, for its size, digest and classes (every shard must record the same).
  const listing = await listDataset(options.data);
  const digest = createHash('sha256');
  const trainLabels = new Set<string>();
  let listed = 0;
  let assigned = 0;
  for await (const image of listing.images()) {
    digest.update(`${image.part}\t${image.label}\t${image.path}\n`);
    listed++;
    if (image.part === 0) trainLabels.add(image.label);
    if (shardOf(image.path, spec.count) === spec.index) assigned++;
  }
  if (listed === 0) throw new GraftError('INVALID_DATASET', `No images listed in ${listing.source}`, { hint: 'a manifest needs path,label lines' });
  const labels = [...trainLabels].sort();
  requireTwoClasses(listing.source, labels);
  requireDistinctLabels(listing.source, labels);
  const dataset: ShardMeta['dataset'] = { root: listing.root, ...(listing.source !== listing.root ? { source: listing.source } : {}), layout: listing.layout, labels, listed, listingSha256: digest.digest('hex') };

  const finalFile = join(storeDir, shardFileName(spec));
  const partialFile = join(storeDir, shardFileName(spec, true));
  const workDir = makeWorkDir(options.workDir, 'graft-shard-', 'the local copy of the shard being written');
  const local = join(workDir, shardFileName(spec));
  const resumedFrom = resumePoint(finalFile, partialFile);
  const resumeFile = resumedFrom === 'complete' ? finalFile : partialFile;
  // Before the try below removes the work folder on failure: a copy that fails (a full disk) must not leave it.
  if (resumedFrom) await copyFile(resumeFile, local).catch(async (error: unknown) => {
    removeWorkDir(workDir);
    throw error;
  });
  // Errors about the local copy name the store's file, the one to delete (the copy is gone by then).
  const store = inTermsOf(local, resumeFile, () => ShardStore.openForWriting(local));
  let backbone: Backbone | undefined;
  try {
    const previous = inTermsOf(local, resumeFile, () => store.meta());
    if (previous) checkCompatible(previous, spec, info, resumeFile);
    const runId = Date.now();
    const model: ShardMeta['model'] = {
      name: info.name,
      source: info.source,
      sha256: info.sha256,
      featureDim: info.featureDim,
      preprocessing: info.preprocessing,
      preprocessingHash: preprocessingHash(info.preprocessing),
    };
    const metaOf = (isComplete: boolean): ShardMeta => ({
      format: 'graft-feature-shard',
      version: SHARD_SCHEMA_VERSION,
      shard: spec,
      model,
      dataset,
      complete: isComplete,
      ...store.counts(),
      graftVersion: GRAFT_VERSION,
      updated: new Date().toISOString(),
    });
    onProgress?.({
      type: 'info',
      message:
        `shard ${spec.index}/${spec.count}: ${assigned} of ${listed} images` +
        (resumedFrom ? `; resuming from the ${resumedFrom === 'complete' ? 'published shard' : 'checkpoint'} (${store.counts().rows} vectors)` : ''),
    });
    onProgress?.({ type: 'extract-start', total: assigned });

    let computed = 0;
    let reused = 0;
    let failed = 0;
    let changed = 0; // rows written or restamped: whether the published shard needs replacing
    let backboneSeconds = 0;
    let checkpoints = 0;
    let lastPublish = performance.now();
    let publishIntervalMs = (options.checkpointSeconds ?? DEFAULT_CHECKPOINT_SECONDS) * 1000;
    const report = (): void => {
      const elapsed = (performance.now() - started) / 1000;
      onProgress?.({ type: 'extract', done: computed + reused + failed, total: assigned, cached: reused, computed, imgPerSec: computed / Math.max(elapsed, 1e-9) });
    };
    const checkpoint = async (): Promise<void> => {
      if (options.signal?.aborted) {
        store.writeMeta(metaOf(false));
        await publishFile(local, partialFile);
        throw new GraftError('CANCELLED', `Stopped shard ${spec.index}/${spec.count}: its ${store.counts().rows} vectors so far are published as ${partialFile}`, {
          hint: 'run the same command again to resume from there',
        });
      }
      if (performance.now() - lastPublish < publishIntervalMs) return;
      const t0 = performance.now();
      store.writeMeta(metaOf(false));
      await publishFile(local, partialFile);
      checkpoints++;
      lastPublish = performance.now();
      publishIntervalMs = Math.max(publishIntervalMs, PUBLISH_COST_FACTOR * (lastPublish - t0));
    };

    const processChunk = async (chunk: readonly ListedImage[]): Promise<void> => {
      const stamps = await FileHashIndex.stamp(chunk.map((image) => image.file));
      const todo: { image: ListedImage; stamp: FileStamp | undefined }[] = [];
      chunk.forEach((image, i) => {
        const stamp = stamps[i];
        const row = store.stamp(image.path);
        if (row && stamp && row.size === stamp.size && row.mtimeNs === stamp.mtimeNs) {
          store.keep(image.path, image.part, image.label, runId);
          if (row.hasVector) reused++;
          else failed++;
        } else todo.push({ image, stamp });
      });
      const pending: ShardRow[] = [];
      let batch: { image: ListedImage; stamp: FileStamp | undefined; sha256: string; data: Float32Array }[] = [];
      const flush = async (): Promise<void> => {
        if (batch.length > 0) {
          backbone ??= await handle.load();
          const { vectors, seconds } = await embedBatch(backbone, batch.map((item) => item.data), info.featureDim);
          backboneSeconds += seconds;
          batch.forEach((item, i) => pending.push(rowOf(item.image, item.stamp, item.sha256, vectors[i]!, null)));
          computed += batch.length;
          batch = [];
        }
        store.putRows(pending, runId);
        changed += pending.length;
        pending.length = 0;
        report();
        await checkpoint();
      };
      const stream = readAndDecode(
        todo.map((t) => t.image.file),
        info.preprocessing,
        {
          concurrency: options.concurrency,
          decode: (sha256, _file, index) => {
            const { image, stamp } = todo[index]!;
            const row = store.stamp(image.path);
            if (row?.hasVector && row.sha256 === sha256) {
              // Touched but unchanged (a copy, a restore): keep the vector, record the new stamp.
              store.keepWithStamp(image.path, stamp?.size ?? -1, stamp?.mtimeNs ?? '', image.part, image.label, runId);
              changed++;
              reused++;
              return false;
            }
            return true;
          },
          onSkip: ({ index, reason }) => {
            const { image, stamp } = todo[index]!;
            pending.push(rowOf(image, stamp, null, null, reason));
            failed++;
          },
        },
      );
      for await (const item of stream) {
        if (!item.data) continue;
        const { image, stamp } = todo[item.index]!;
        batch.push({ image, stamp, sha256: item.sha256, data: item.data });
        if (batch.length >= batchSize) await flush();
      }
      await flush();
    };

    let chunk: ListedImage[] = [];
    for await (const image of listing.images()) {
      if (shardOf(image.path, spec.count) !== spec.index) continue;
      chunk.push(image);
      if (chunk.length >= CHUNK) {
        await processChunk(chunk);
        chunk = [];
      }
    }
    await processChunk(chunk);
    const removed = store.removeUnseen(runId);

    const isPublished = resumedFrom !== 'complete' || changed > 0 || removed > 0 || !sameListing(previous, dataset);
    if (isPublished) {
      store.writeMeta(metaOf(true));
      store.close();
      await publishFile(local, finalFile);
      onProgress?.({ type: 'info', message: `shard ${spec.index}/${spec.count}: published ${finalFile}` });
    } else {
      onProgress?.({ type: 'info', message: `shard ${spec.index}/${spec.count}: ${finalFile} is up to date` });
    }
    await rm(partialFile, { force: true });
    const skipped = unreadable(local, listing.root);
    return {
      shard: spec,
      file: finalFile,
      listed,
      images: assigned,
      computed,
      reused,
      removed,
      resumedFrom,
      isPublished,
      checkpoints,
      skipped,
      scanSkipped: listing.scanSkipped,
      seconds: (performance.now() - started) / 1000,
      backboneSeconds,
    };
  } finally {
    store.close();
    await backbone?.dispose();
    removeWorkDir(workDir);
  }
}

function rowOf(image: ListedImage, stamp: FileStamp | undefined, sha256: string | null, vector: Float32Array | null, reason: string | null): ShardRow {
  return { path: image.path, part: image.part, label: image.label, sha256, size: stamp?.size ?? -1, mtimeNs: stamp?.mtimeNs ?? '', vector, reason };
}

/** The shard's unreadable images, read back from the finished file (so a rerun reports them too). */
function unreadable(file: string, root: string): SkippedFile[] {
  const store = ShardStore.openForReading(file);
  try {
    const out: SkippedFile[] = [];
    for (const row of store.iterateListing()) if (row.reason !== null) out.push({ file: resolve(root, row.path), reason: row.reason });
    return out;
  } finally {
    store.close();
  }
}

function sameListing(previous: ShardMeta | undefined, dataset: ShardMeta['dataset']): boolean {
  return previous !== undefined && previous.dataset.listingSha256 === dataset.listingSha256 && previous.dataset.root === dataset.root;
}

/** A shard file of the same name must come from the same backbone and preprocessing: mixing them would be silent garbage. */
function checkCompatible(previous: ShardMeta, spec: ShardSpec, info: BackboneHandle['info'], file: string): void {
  const hint = 'use a new --store folder for another backbone or preprocessing, or delete the old shards to recompute them';
  if (previous.shard.index !== spec.index || previous.shard.count !== spec.count) {
    throw new GraftError('INVALID_DATASET', `${file} says it is shard ${previous.shard.index}/${previous.shard.count}, not ${spec.index}/${spec.count}.`, { hint: 'the file was renamed or copied; delete it' });
  }
  if (previous.model.sha256 !== info.sha256) {
    throw new GraftError(
      'INVALID_DATASET',
      `${file} was made with backbone ${previous.model.name} (sha256 ${previous.model.sha256.slice(0, 12)}...), not ${info.name} (sha256 ${info.sha256.slice(0, 12)}...).`,
      { hint },
    );
  }
  if (previous.model.preprocessingHash !== preprocessingHash(info.preprocessing)) {
    throw new GraftError(
      'INVALID_DATASET',
      `${file} was made with other preprocessing (${JSON.stringify(previous.model.preprocessing)}) than this run's (${JSON.stringify(info.preprocessing)}).`,
      { hint },
    );
  }
}

async function makeFolder(dir: string): Promise<void> {
  try {
    await makeDirectory(dir);
  } catch (cause) {
    throw new GraftError('INVALID_CONFIG', `Cannot create the store folder ${dir}: ${cause instanceof Error ? cause.message : String(cause)}`, {
      hint: 'pass --store a folder this process can write to (on a cluster, the shared volume\'s mount path)',
      cause,
    });
  }
}

const GRAFT_VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

/** Runs `read` on the local copy of `original`; a GraftError it throws names `original` instead of the copy. */
function inTermsOf<T>(copy: string, original: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (!(error instanceof GraftError) || !error.message.includes(copy)) throw error;
    throw new GraftError(error.code, error.message.replaceAll(copy, original), { hint: `delete ${original} and run this shard again`, cause: error });
  }
}

/**
 * Where a rerun of a shard starts: its checkpoint when that is newer than the published shard (a rerun over a grown
 * dataset, interrupted, began from the published rows and went on: redoing its work from the published shard wasted
 * it), else the published shard, else its checkpoint, else nothing. A completed run removes the checkpoint.
 */
function resumePoint(finalFile: string, partialFile: string): 'complete' | 'partial' | null {
  const modified = (file: string): number | undefined => {
    try {
      return statSync(file).mtimeMs;
    } catch {
      return undefined;
    }
  };
  const [published, checkpoint] = [modified(finalFile), modified(partialFile)];
  if (checkpoint !== undefined && (published === undefined || checkpoint >= published)) return 'partial';
  return published !== undefined ? 'complete' : null;
}
