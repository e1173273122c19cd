import type { Command } from 'commander';
import { cacheContents, clearCache, type CacheContents, type ClearedCache } from '../../features/cache-contents.js';
import { cacheDirFrom } from '../environment.js';
import { printResult, reportFailure } from '../output.js';

/** `graft cache info --json` (a JSON contract). */
export interface CacheInfoJson {
  dir: string;
  total_bytes: number;
  features: { path: string; entries: number; file_bytes: number; models: { model: string; name: string | null; dim: number; entries: number }[]; damaged?: string } | null;
  file_index: { path: string; bytes: number } | null;
  exports_bytes: number;
  models: { folder: string; path: string; bytes: number }[];
}

/** `graft cache clear --json` (a JSON contract). */
export interface CacheClearJson {
  dir: string;
  features_removed: number;
  file_hashes_removed: number;
  models_removed: string[];
  bytes_before: number;
  bytes_after: number;
}

/** `graft cache info|clear`: what the cache folder holds, and emptying it. */
export function registerCache(program: Command): void {
  const cache = program.command('cache').description('the cache folder: what it holds (features, downloaded backbones), and emptying it');
  const cacheOption = ['--cache-dir <dir>', 'the cache folder (default: $GRAFT_CACHE_DIR or the user cache folder)'] as const;
  const jsonOption = ['--json', 'print one JSON object on stdout', false] as const;

  cache
    .command('info')
    .description('where the cache is and what it holds: feature vectors per backbone, file hashes, exports, downloaded backbones, sizes')
    .option(...cacheOption)
    .option(...jsonOption)
    .action(async (flags: { cacheDir?: string; json: boolean }) => {
      try {
        const contents = await cacheContents(cacheDirFrom(flags.cacheDir));
        printResult(flags.json, infoJson(contents), () => formatInfo(contents));
      } catch (error) {
        reportFailure(error, flags.json);
      }
    });

  cache
    .command('clear')
    .description('remove what Graft computes again (feature vectors, file hashes, backbone exports); --models also removes downloaded backbones')
    .option('--models', 'also remove downloaded backbones (they are downloaded again when next used)', false)
    .option(...cacheOption)
    .option(...jsonOption)
    .action(async (flags: { cacheDir?: string; models: boolean; json: boolean }) => {
      try {
        const dir = cacheDirFrom(flags.cacheDir);
        const cleared = await clearCache(dir, { models: flags.models });
        printResult(flags.json, clearJson(dir, cleared), () => formatCleared(dir, cleared));
      } catch (error) {
        reportFailure(error, flags.json);
      }
    });
}

function infoJson(c: CacheContents): CacheInfoJson {
  return {
    dir: c.dir,
    total_bytes: c.totalBytes,
    features: c.features && { path: c.features.path, entries: c.features.entries, file_bytes: c.features.fileBytes, models: c.features.models.map((m) => ({ ...m })), ...(c.features.damaged ? { damaged: c.features.damaged } : {}) },
    file_index: c.fileIndex && { ...c.fileIndex },
    exports_bytes: c.exportsBytes,
    models: c.models.map((m) => ({ ...m })),
  };
}

function clearJson(dir: string, c: ClearedCache): CacheClearJson {
  return { dir, features_removed: c.features, file_hashes_removed: c.files, models_removed: [...c.models], bytes_before: c.bytesBefore, bytes_after: c.bytesAfter };
}

const mb = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MB`;

function formatInfo(c: CacheContents): string {
  const lines = [`${c.dir}: ${mb(c.totalBytes)}`];
  if (c.features) {
    if (c.features.damaged) lines.push(`  features     damaged, ${mb(c.features.fileBytes)} (${c.features.damaged}): graft cache clear removes it`);
    else lines.push(`  features     ${c.features.entries} vectors, ${mb(c.features.fileBytes)} (${c.features.path})`);
    for (const m of c.features.models) lines.push(`               ${String(m.entries).padStart(8)} x ${m.dim}-d  ${m.name ?? `model ${m.model.slice(0, 12)}...`}`);
  } else {
    lines.push('  features     none');
  }
  lines.push(`  file hashes  ${c.fileIndex ? mb(c.fileIndex.bytes) : 'none'}`);
  lines.push(`  exports      ${mb(c.exportsBytes)} (backbones converted to ONNX, and their descriptions)`);
  if (c.models.length === 0) lines.push('  backbones    none downloaded');
  for (const m of c.models) lines.push(`  backbone     ${m.folder.padEnd(24)} ${mb(m.bytes)}`);
  lines.push('', 'graft cache clear removes what is computed again (features, file hashes, exports); --models also the downloaded backbones');
  return lines.join('\n');
}

function formatCleared(dir: string, c: ClearedCache): string {
  return [
    `${dir}: ${mb(c.bytesBefore)} -> ${mb(c.bytesAfter)}`,
    `  removed ${c.features} feature vectors and ${c.files} file hashes${c.models.length ? `, and the backbones ${c.models.join(', ')}` : ''}`,
  ].join('\n');
}
