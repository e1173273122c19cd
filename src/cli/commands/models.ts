import { statSync } from 'node:fs';
import type { Command } from 'commander';
import { backboneFromOptions } from '../../engine/open-backbone.js';
import { describeCutPoints, findCutPoints, formatShape } from '../../onnx/cut-points.js';
import { addBackboneOptions, backboneOptionsFrom, type BackboneFlags } from '../options.js';
import { GraftError } from '../../core/errors.js';
import { CATALOGUE, CATALOGUE_NAMES, DEFAULT_BACKBONE, isCatalogueName, type CatalogueEntry } from '../../hub/catalogue.js';
import { applyMirror, type MirrorRule } from '../../hub/mirror.js';
import { cachedCopy, catalogueCachePath, resolveBackbone, type BackboneLocation, type CachedCopy } from '../../hub/resolve-backbone.js';
import { cacheDirFrom, hubMirrors, modelDirsFromEnvironment } from '../environment.js';
import type { ProgressListener } from '../../core/progress.js';
import { printResult, reportFailure } from '../output.js';
import { renderProgress } from '../render-progress.js';
import { onnxModelOf } from '../../engine/onnx-model-of.js';

/** One row of `graft models list --json` (a JSON contract). */
export interface ModelListItem {
  name: string;
  format: CatalogueEntry['format'];
  input_size: number;
  feature_dim: number;
  /**
   * `true` when the cache holds it (checked against the catalogue's sha256), `'bundled'` when an npm dependency ships
   * it, `'damaged'` when the cached copy fails that check (the next use removes it and downloads it again).
   */
  cached: boolean | 'bundled' | 'damaged';
  license: string;
  is_default: boolean;
  checksum: 'verified' | 'unverified';
  description: string;
}

/** `graft models info <name> --json` (a JSON contract): the catalogue entry plus where it is and would come from. */
export interface ModelInfo extends ModelListItem {
  url: string | null;
  /** Where the download actually comes from once mirrors apply: a URL or a local file. */
  fetch_from: string | null;
  file_name: string;
  sha256: readonly string[];
  preprocessing: { input_size: number; scale: string; layout: string; resize: string };
  feature_layer: string | null;
  homepage: string | null;
  keras_application: string | null;
  notes: string | null;
  cache_path: string | null;
}

/** `graft models pull --json` (a JSON contract). */
export interface PullResult {
  name: string;
  format: string;
  source: string;
  /** The file or folder the model now lives in. */
  path: string;
  sha256: string;
  /** False when nothing was fetched (cache, GRAFT_MODELS_DIR, a local path, or the bundled copy). */
  fetched: boolean;
}

export interface ModelsCommandOptions {
  readonly cacheDir: string;
  readonly mirrors: readonly MirrorRule[];
}

/** Rows for `graft models list`: every catalogue entry, default first as in the table's order. */
export async function listModels(cacheDir: string): Promise<ModelListItem[]> {
  return Promise.all(CATALOGUE_NAMES.map((name) => listItem(CATALOGUE[name], cacheDir)));
}

/** `graft models info <name>`. @throws GraftError MODEL_NOT_FOUND for a name not in the catalogue, listing the names. */
export async function modelInfo(name: string, options: ModelsCommandOptions): Promise<ModelInfo> {
  if (!isCatalogueName(name)) {
    throw new GraftError('MODEL_NOT_FOUND', `"${name}" is not in the catalogue`, { hint: `use one of: ${CATALOGUE_NAMES.join(', ')}` });
  }
  const entry: CatalogueEntry = CATALOGUE[name];
  const target = entry.url ? applyMirror(entry.url, options.mirrors) : undefined;
  return {
    ...(await listItem(entry, options.cacheDir)),
    url: entry.url ?? null,
    fetch_from: target ? ('url' in target ? target.url : target.path) : null,
    file_name: entry.fileName,
    sha256: entry.sha256,
    preprocessing: { input_size: entry.inputSize, scale: entry.scale, layout: entry.layout, resize: entry.resize },
    feature_layer: entry.featureLayer ?? null,
    homepage: entry.homepage ?? null,
    keras_application: entry.kerasApplication ?? null,
    notes: entry.notes ?? null,
    cache_path: entry.bundled ? null : catalogueCachePath(entry, options.cacheDir),
  };
}

/**
 * `graft models pull <name|url>`: resolves the model as training would (cache, GRAFT_MODELS_DIR, mirrors, network)
 * and says where it is.
 */
export async function pullModel(spec: string, options: ModelsCommandOptions & { readonly onProgress?: ProgressListener; readonly modelDirs?: readonly string[] }): Promise<PullResult> {
  let fetched = false;
  const resolved = await resolveBackbone(spec, {
    cacheDir: options.cacheDir,
    modelDirs: options.modelDirs,
    mirrors: options.mirrors,
    onProgress: (event) => {
      if (event.type === 'download') fetched = true;
      options.onProgress?.(event);
    },
  });
  return { name: resolved.name, format: resolved.format, source: resolved.source, path: locationPath(resolved.location), sha256: resolved.sha256, fetched };
}

export function registerModels(program: Command): void {
  const models = program.command('models').description('the backbone catalogue: list it, describe a model, download one into the cache');
  const cacheOption = ['--cache-dir <dir>', 'model cache (default: $GRAFT_CACHE_DIR or the user cache folder)'] as const;
  const jsonOption = ['--json', 'print one JSON value on stdout', false] as const;

  models
    .command('list')
    .description('every named backbone: format, input size, feature size, whether it is cached, licence')
    .option(...cacheOption)
    .option(...jsonOption)
    .action(async (flags: { cacheDir?: string; json: boolean }) => {
      try {
        const rows = await listModels(cacheDirFrom(flags.cacheDir));
        printResult(flags.json, rows, () => formatList(rows));
      } catch (error) {
        reportFailure(error, flags.json);
      }
    });

  models
    .command('info')
    .description('everything Graft knows about a named backbone: source, sha256, preprocessing, licence, cache path')
    .argument('<name>', `catalogue name (${CATALOGUE_NAMES.join(', ')})`)
    .option(...cacheOption)
    .option(...jsonOption)
    .action(async (name: string, flags: { cacheDir?: string; json: boolean }) => {
      try {
        const info = await modelInfo(name, { cacheDir: cacheDirFrom(flags.cacheDir), mirrors: hubMirrors() });
        printResult(flags.json, info, () => formatInfo(info));
      } catch (error) {
        reportFailure(error, flags.json);
      }
    });

  addBackboneOptions(
    models
      .command('cuts')
      .description('where a backbone can be split for --fine-tune: every cut point, its shape, and which --unfreeze picks it')
      .argument('[backbone]', 'catalogue name, path or URL (default: the --backbone option, mobilenet_v2)'),
  ).action(async (positional: string | undefined, flags: BackboneFlags) => {
    const progress = renderProgress({ quiet: flags.json && !process.stderr.isTTY });
    try {
      const handle = await backboneFromOptions(backboneOptionsFrom({ ...flags, backbone: positional ?? flags.backbone }, progress));
      const model = await onnxModelOf(handle);
      const points = findCutPoints(model, handle.onnxFeatureOutput).map((p) => ({ tensor: p.tensor, shape: formatShape(p) ?? null, quantized: p.isQuantized, spatialConvsAfter: p.spatialConvsAfter }));
      progress.stop();
      printResult(flags.json, { backbone: handle.info.name, featureOutput: handle.onnxFeatureOutput, cuts: points }, () =>
        [`${handle.info.name}: cut points before its features "${handle.onnxFeatureOutput}"`, describeCutPoints(model, handle.onnxFeatureOutput), '', 'use: graft train <data> --fine-tune --unfreeze last:<N> | from:<tensor> | all'].join('\n'),
      );
    } catch (error) {
      progress.stop();
      reportFailure(error, flags.json);
    }
  });

  models
    .command('pull')
    .description('download a backbone into the cache (verified, resumable); a cached one is not fetched again')
    .argument('<name|url>', 'catalogue name or http(s) URL of an .onnx file, model.json or .h5')
    .option(...cacheOption)
    .option(...jsonOption)
    .action(async (spec: string, flags: { cacheDir?: string; json: boolean }) => {
      const progress = renderProgress({ quiet: flags.json && !process.stderr.isTTY });
      try {
        const result = await pullModel(spec, {
          cacheDir: cacheDirFrom(flags.cacheDir),
          mirrors: hubMirrors(),
          modelDirs: modelDirsFromEnvironment(),
          onProgress: progress,
        });
        progress.stop();
        printResult(flags.json, result, () =>
          [`${result.name} (${result.format}) ${result.fetched ? 'downloaded to' : 'already at'} ${result.path}`, `sha256 ${result.sha256}`].join('\n'),
        );
      } catch (error) {
        progress.stop();
        reportFailure(error, flags.json);
      }
    });
}

async function listItem(entry: CatalogueEntry, cacheDir: string): Promise<ModelListItem> {
  return {
    name: entry.name,
    format: entry.format,
    input_size: entry.inputSize,
    feature_dim: entry.featureDim,
    cached: entry.bundled ? 'bundled' : cachedState(await cachedCopy(entry, cacheDir)),
    license: entry.license,
    is_default: entry.name === DEFAULT_BACKBONE,
    checksum: entry.checksum ?? 'verified',
    description: entry.description,
  };
}

const cachedState = (copy: CachedCopy): boolean | 'damaged' => ('damaged' in copy ? 'damaged' : 'found' in copy);

function locationPath(location: BackboneLocation): string {
  switch (location.kind) {
    case 'onnx':
    case 'keras-h5':
      return location.path;
    case 'tfjs-layers':
    case 'tfjs-graph':
      return location.dir;
    case 'bundled':
      return `npm:${location.bundle}`;
  }
}

function formatList(rows: readonly ModelListItem[]): string {
  const table = [
    ['name', 'format', 'input', 'features', 'cached', 'licence'],
    ...rows.map((r) => [`${r.name}${r.is_default ? ' *' : ''}`, r.format, String(r.input_size), String(r.feature_dim), r.cached === 'bundled' || r.cached === 'damaged' ? r.cached : r.cached ? 'yes' : 'no', r.license]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  const lines = table.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '));
  return [...lines, '', `* default. Unverified entries (no published sha256) are hashed on download. Details: graft models info <name>`].join('\n');
}

function formatInfo(info: ModelInfo): string {
  const p = info.preprocessing;
  const size = info.cache_path && info.cached === true && statSync(info.cache_path).isFile() ? ` (${statSync(info.cache_path).size} bytes)` : '';
  return [
    `${info.name}${info.is_default ? ' (default)' : ''}: ${info.description}`,
    `  format        ${info.format}${info.keras_application ? ` (weights for Keras ${info.keras_application})` : ''}`,
    `  source        ${info.url ?? 'bundled with the nsfwjs npm package'}`,
    ...(info.fetch_from && info.fetch_from !== info.url ? [`  via mirror    ${info.fetch_from}`] : []),
    `  sha256        ${info.sha256.length ? info.sha256.join(', ') : `unverified (no published hash)`}`,
    `  preprocessing ${p.input_size}x${p.input_size}, ${p.resize}, scale ${p.scale}, ${p.layout.toUpperCase()}`,
    `  features      ${info.feature_dim}${info.feature_layer ? ` from layer ${info.feature_layer}` : ''}`,
    `  licence       ${info.license}`,
    ...(info.homepage ? [`  homepage      ${info.homepage}`] : []),
    ...(info.notes ? [`  notes         ${info.notes}`] : []),
    `  cached        ${info.cached === 'bundled' ? 'bundled' : info.cached === 'damaged' ? `damaged, ${info.cache_path} (graft models pull ${info.name} replaces it)` : info.cached ? `yes, ${info.cache_path}${size}` : `no (graft models pull ${info.name})`}`,
  ].join('\n');
}
