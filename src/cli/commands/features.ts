import { Option, type Command } from 'commander';
import { exportParquet } from '../../features/export-parquet.js';
import { importParquet } from '../../features/import-parquet.js';
import { storeStatus } from '../../features/shard-set.js';
import { printResult, reportFailure, shellWord } from '../output.js';
import { renderProgress } from '../render-progress.js';
import { roundSeconds } from '../../core/round-seconds.js';

/** `graft features status|export|import`: look at a shard store, and move it to and from Parquet. */
export function registerFeatures(program: Command): void {
  const features = program.command('features').description('feature stores written by graft embed --store: status, and Parquet export/import');

  features
    .command('status')
    .description('every shard of a store: complete, partial (running or interrupted) or missing, with row counts and problems')
    .argument('<store-dir>', 'the folder given to graft embed --store')
    .option('--json', 'print one JSON object on stdout', false)
    .action((dir: string, flags: { json: boolean }) => {
      try {
        const status = storeStatus(dir);
        printResult(flags.json, { dir: status.dir, count: status.count, complete: status.isComplete, problems: status.problems, shards: status.shards, backbone: status.meta?.model.source ?? null, dataset: status.meta?.dataset.source ?? status.meta?.dataset.root ?? null }, () =>
          [
            `${status.dir}: ${status.count ?? 0} shards, ${status.isComplete ? 'complete' : 'NOT complete'}`,
            ...status.shards.map((s) => `  ${String(s.index).padStart(5)}  ${s.state.padEnd(8)} ${String(s.rows).padStart(8)} rows ${s.skipped ? `(${s.skipped} unreadable)` : ''}${s.updated ? `  ${s.updated}` : ''}`),
            ...status.problems.map((p) => `  problem: ${p}`),
          ].join('\n'),
        );
        if (!status.isComplete) process.exitCode = 2;
      } catch (error) {
        reportFailure(error, flags.json);
      }
    });

  features
    .command('export')
    .description('write every vector of a store as one Parquet file: path, label, part, sha256, model_id, preprocessing_id, vector')
    .argument('<store-dir>', 'the folder given to graft embed --store (every shard complete)')
    .addOption(new Option('--format <format>', 'output format').choices(['parquet']).default('parquet'))
    .option('--out <file>', 'output file', 'features.parquet')
    .option('--json', 'print one JSON object on stdout', false)
    .action(async (dir: string, flags: { format: 'parquet'; out: string; json: boolean }) => {
      const progress = renderProgress({ quiet: flags.json && !process.stderr.isTTY });
      try {
        const r = await exportParquet(dir, flags.out, { onProgress: progress });
        progress.stop();
        const result = { file: r.file, format: flags.format, rows: r.rows, dim: r.dim, row_groups: r.rowGroups, bytes: r.bytes, seconds: roundSeconds(r.seconds) };
        printResult(flags.json, result, () => `${r.rows} rows of ${r.dim} floats in ${r.rowGroups} row groups written to ${r.file} (${(r.bytes / 1048576).toFixed(1)} MB, ${r.seconds.toFixed(1)} s)`);
      } catch (error) {
        progress.stop();
        reportFailure(error, flags.json);
      }
    });

  features
    .command('import')
    .description('read a Parquet file written by graft features export into a store folder (one shard), for graft train --store')
    .argument('<file>', 'the .parquet file')
    .requiredOption('--store <dir>', 'the store folder to write (new or empty)')
    .option('--json', 'print one JSON object on stdout', false)
    .action(async (file: string, flags: { store: string; json: boolean }) => {
      const progress = renderProgress({ quiet: flags.json && !process.stderr.isTTY });
      try {
        const r = await importParquet(file, flags.store, { onProgress: progress });
        progress.stop();
        const result = { file: r.file, rows: r.rows, dim: r.dim, seconds: roundSeconds(r.seconds) };
        printResult(flags.json, result, () => `${r.rows} rows of ${r.dim} floats imported into ${r.file}\nnext: graft train --store ${shellWord(flags.store)} --out <model-dir>`);
      } catch (error) {
        progress.stop();
        reportFailure(error, flags.json);
      }
    });
}
