import type { Command } from 'commander';
import { formatReport } from '../../metrics/format-report.js';
import { GraftError } from '../../core/errors.js';
import { compareModels, formatComparison } from '../compare-models.js';
import { evaluateModel } from '../../model/evaluate-model.js';
import { GraftModel } from '../../model/graft-model.js';
import { LABEL_PATTERN_HELP } from '../options.js';
import { printable, printResult, refuseJsonWithCsv, reportFailure } from '../output.js';
import { evaluationCsv } from '../prediction-csv.js';
import { renderProgress } from '../render-progress.js';

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('score a trained model directory on labelled images: accuracy with its interval, per-class scores, confusion matrix, classes most confused, calibration, mistakes; --compare tells two models apart')
    .argument('<model-dir>', 'a directory written by graft train')
    .argument('<dir>', 'labelled images: class sub-folders (or a split set: scored on its test/, else val/ or valid/) or a CSV')
    .option('--label-pattern <regex>', LABEL_PATTERN_HELP)
    .option('--json', 'print one JSON object on stdout', false)
    .option('--csv', 'print every image on stdout as CSV instead: path,label,predicted,probability,label_probability,correct,error (the scores go to stderr)', false)
    .option('--compare <model-dir>', 'score a second model on the same images and say whether the two differ by more than chance (McNemar\'s exact test on the images one gets right and the other wrong)')
    .action(async (modelDir: string, dir: string, flags: { json: boolean; csv: boolean; labelPattern?: string; compare?: string }) => {
      const progress = renderProgress({ quiet: flags.json && !process.stderr.isTTY });
      let model: GraftModel | undefined;
      try {
        refuseJsonWithCsv(flags);
        if (flags.compare !== undefined) {
          if (flags.csv) throw new GraftError('INVALID_CONFIG', '--csv and --compare cannot be combined.', { hint: 'run graft eval --csv on each model for its rows' });
          const comparison = await compareModels([modelDir, flags.compare], dir, { onProgress: progress, labelPattern: flags.labelPattern });
          progress.stop();
          printResult(flags.json, comparison, () => formatComparison(comparison));
          return;
        }
        model = await GraftModel.load(modelDir);
        const report = await evaluateModel(model, dir, { onProgress: progress, labelPattern: flags.labelPattern, perImage: flags.csv });
        progress.stop();
        if (flags.csv) {
          const images = report.images ?? [];
          process.stdout.write(evaluationCsv(images));
          // Files that are not images of the set (no row of their own) are said here; unreadable images have their row.
          const inRows = new Set(images.map((i) => i.file));
          const notImages = report.skipped.filter((s) => !inRows.has(s.file)).map((s) => `skipped ${printable(s.file)}: ${s.reason}\n`);
          process.stderr.write(`${notImages.join('')}${report.dataset}: ${report.count} images, accuracy ${report.accuracy.toFixed(4)}, ${report.misclassified.length} misclassified\n`);
          return;
        }
        printResult(flags.json, { ...report, misclassified: report.misclassified.map(({ file, true: t, predicted, confidence }) => ({ file, true: t, predicted, confidence })) }, () =>
          [`${report.dataset}${report.part ? ` (its ${report.part} rows)` : ''}: ${report.count} images`, formatReport(report), ...report.skipped.map((s) => `skipped ${printable(s.file)}: ${s.reason}`)].join('\n'),
        );
      } catch (error) {
        progress.stop();
        reportFailure(error, flags.json);
      } finally {
        await model?.dispose();
      }
    });
}
