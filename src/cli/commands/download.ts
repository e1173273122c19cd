import type { Command } from 'commander';
import { createRequire } from 'node:module';
import { DOWNLOADED_MANIFEST, downloadImages, type DownloadReport } from '../../data/download-images.js';
import { parseNonNegativeInteger, parsePositiveInteger } from '../options.js';
import { printable, printResult, reportFailure, shellWord } from '../output.js';
import { renderProgress } from '../render-progress.js';
import { cancelOnSignal } from '../until-signal.js';

const { version } = createRequire(import.meta.url)('../../../package.json') as { version: string };

/** Failures the text lists one by one (each was said on stderr as it happened; --json holds them all). */
const MAX_FAILURE_LINES = 20;

export function registerDownload(program: Command): void {
  program
    .command('download')
    .description(`fetch the images a CSV or JSONL manifest names by URL into a folder (a sub-folder per class) and write a ${DOWNLOADED_MANIFEST} there that graft train reads; run again, it fetches only what is missing`)
    .argument('<manifest>', 'a .csv (path,label, or named columns such as url,label,split) or .jsonl whose paths are http(s) URLs; rows naming local files are kept as they are')
    .requiredOption('--out <dir>', 'the folder to fetch into (created; one that an earlier download filled is completed)')
    .option('--concurrency <n>', 'images fetched at once', parsePositiveInteger, 8)
    .option('--retries <n>', 'retries of a failure that may pass (a busy server, a reset connection), per image', parseNonNegativeInteger, 2)
    .option('--json', 'print one JSON object on stdout', false)
    .action(async (manifest: string, flags: { out: string; concurrency: number; retries: number; json: boolean }) => {
      const progress = renderProgress({ quiet: flags.json && !process.stderr.isTTY });
      const cancel = cancelOnSignal();
      try {
        const report = await downloadImages(manifest, flags.out, {
          concurrency: flags.concurrency,
          retries: flags.retries,
          userAgent: `graft/${version} (image download; https://www.npmjs.com/package/graft)`,
          signal: cancel.signal,
          onProgress: progress,
        });
        progress.stop();
        printResult(flags.json, report, () => formatDownload(report));
      } catch (error) {
        progress.stop();
        reportFailure(error, flags.json, cancel.received);
      } finally {
        cancel.dispose();
      }
    });
}

/** The text `graft download` prints (without --json): what is where, what failed, and the command to train. */
export function formatDownload(r: DownloadReport): string {
  const lines = [
    `${r.manifest}: ${r.rows} images (${r.downloaded} fetched, ${r.present} already there${r.local ? `, ${r.local} local files` : ''}) in ${r.seconds.toFixed(1)} s`,
  ];
  if (r.failed.length > 0) {
    lines.push(`${r.failed.length} could not be had and are left out:`);
    for (const f of r.failed.slice(0, MAX_FAILURE_LINES)) lines.push(`  line ${f.line} (${printable(f.label)}): ${printable(f.url)}: ${f.reason}`);
    if (r.failed.length > MAX_FAILURE_LINES) lines.push(`  ... and ${r.failed.length - MAX_FAILURE_LINES} more (--json lists them all)`);
  }
  lines.push(`next: graft train ${shellWord(r.manifest)} --out model`);
  return lines.join('\n');
}
