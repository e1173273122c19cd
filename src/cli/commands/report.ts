import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { GraftError } from '../../core/errors.js';
import type { Command } from 'commander';
import { writeFileAtomic } from '../../core/atomic-write.js';
import { readHead } from '../../core/read-head.js';
import { assertCanCreate, assertOutsideInputs } from '../../core/replaceable-output.js';
import { buildReport } from '../../report/build-report.js';
import { LABEL_PATTERN_HELP } from '../options.js';
import { printResult, reportFailure } from '../output.js';
import { renderProgress } from '../render-progress.js';
import { makeDirectory } from '../../core/make-directory.js';

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('write one self-contained HTML report: training curves, confusion matrix, per-class scores, misclassified thumbnails')
    .argument('<model-dir>', 'a directory written by graft train')
    .option('--data <dir>', "labelled images to evaluate on (default: the validation images training scored: its folder or manifest rows, or the images its --val-split held out, drawn again)")
    .option('--label-pattern <regex>', `with --data: ${LABEL_PATTERN_HELP}`)
    .option('--out <file>', 'where the HTML file goes', 'report.html')
    .option('--json', 'print one JSON object on stdout', false)
    .action(async (modelDir: string, flags: { data?: string; labelPattern?: string; out: string; json: boolean }, command: Command) => {
      const progress = renderProgress({ quiet: flags.json && !process.stderr.isTTY });
      try {
        const out = resolve(flags.out);
        // Checked before the report is built: a folder given as --out would otherwise fail at the very end.
        if (await stat(out).then((info) => info.isDirectory(), () => false)) {
          throw new GraftError('INVALID_CONFIG', `--out ${flags.out} is a folder; the report is one HTML file`, { hint: `e.g. --out ${join(flags.out, 'report.html')}` });
        }
        await assertCanCreate(flags.out);
        // An earlier report may be replaced; the model's graft.json or an image of --data may not.
        await assertOutsideInputs(flags.out, [modelDir, ...(flags.data === undefined ? [] : [flags.data])], 'the report', { mayReplace: isGraftReport });
        if (command.getOptionValueSource('out') === 'default') assertDefaultOutFree(flags.out);
        const report = await buildReport(modelDir, { data: flags.data, labelPattern: flags.labelPattern, onProgress: progress });
        progress.stop();
        await makeDirectory(dirname(out));
        await writeFileAtomic(out, report.html);
        const bytes = Buffer.byteLength(report.html);
        const notScored = report.notScored ? { notScored: report.notScored } : {};
        printResult(flags.json, { report: out, bytes, dataset: report.dataset, accuracy: report.accuracy, misclassified: report.dataset ? report.misclassified : null, ...notScored }, () =>
          [
            `wrote ${out} (${(bytes / 1024).toFixed(0)} kB)`,
            report.dataset
              ? `evaluated on ${report.dataset}: accuracy ${((report.accuracy ?? 0) * 100).toFixed(1)}%, ${report.misclassified} misclassified`
              : `${report.notScored ? `not evaluated: ${report.notScored}` : 'no labelled data'}; pass --data <dir> for the confusion matrix and mistakes`,
          ].join('\n'),
        );
      } catch (error) {
        progress.stop();
        reportFailure(error, flags.json);
      }
    });
}

/**
 * The default --out (report.html in the working directory) replaces only an earlier Graft report: a file of that
 * common name the user did not name is theirs. A named --out is replaced, as `-o` is in other tools.
 * @throws GraftError INVALID_CONFIG naming the file.
 */
function assertDefaultOutFree(out: string): void {
  if (!existsSync(out) || isGraftReport(out)) return;
  throw new GraftError('INVALID_CONFIG', `${out} exists and is not a Graft report; the report would replace it`, {
    hint: `pass --out ${out} to replace it, or --out <another file>`,
  });
}

/** Whether `path` is a report `graft report` wrote (its title says so in the first kB). */
function isGraftReport(path: string): boolean {
  try {
    return readHead(path, 1024).toString('utf8').includes('<title>Graft report');
  } catch {
    return false;
  }
}
