import { Option, type Command } from 'commander';
import { GraftError } from '../../core/errors.js';
import { exportWeb, WEB_ENGINE_CHOICES } from '../../web/export-web.js';
import { exportTfjs } from '../../model/export-tfjs.js';
import { exportTeachableMachine, type TeachableMachineExport } from '../../model/export-teachable-machine.js';
import { addOldSpelling } from '../options.js';
import { printResult, reportFailure } from '../output.js';
import { stopWritingOnSignal } from '../until-signal.js';
import { checkLines } from './convert.js';

export function registerExport(program: Command): void {
  const command = program
    .command('export')
    .description('export a trained model for another runtime: --to web writes a static folder that classifies in the browser (onnxruntime-web running model.onnx itself, or TensorFlow.js on request); --to tfjs writes a TF.js layers model with its labels and preprocessing; --to teachable-machine writes a folder that the Teachable Machine and ml5 libraries load as one of their own models')
    .argument('<model-dir>', 'a directory written by graft train')
    // --to, as graft convert names what it writes; --target was its first name here.
    .requiredOption('--to <target>', 'what to export for: web, tfjs or teachable-machine')
    .option('--out <dir>', 'output folder (default: <model-dir>-web, <model-dir>-tfjs or <model-dir>-tm)')
    .addOption(
      new Option('--engine <engine>', "web: the engine that runs the model in the page: auto (onnxruntime-web, which runs model.onnx itself: the server's answers), onnxruntime-web, or tfjs (faster for int8 models, but in float: borderline answers change)")
        .choices(WEB_ENGINE_CHOICES)
        .default('auto'),
    )
    .option('--overwrite', 'replace an earlier export at --out (a folder holding other files is never replaced)', false)
    .option('--json', 'print one JSON object on stdout', false);
  addOldSpelling(command, '--target <target>', '--to');
  command.action(async (modelDir: string, flags: { to: string; out?: string; engine: string; overwrite: boolean; json: boolean }, cmd: Command) => {
    const stopOnSignal = stopWritingOnSignal('graft export', flags.json);
    try {
      // The page's engine: another target has none to choose (it was accepted and dropped).
      if (flags.to !== 'web' && cmd.getOptionValueSource('engine') === 'cli') {
        throw new GraftError('INVALID_CONFIG', `--engine chooses what runs a web export's page; --to ${flags.to} writes a model without one`, { hint: `drop --engine, or export with --to web --engine ${flags.engine}` });
      }
      if (flags.to === 'tfjs') {
        const result = await exportTfjs(modelDir, { out: flags.out, overwrite: flags.overwrite });
        const c = result.conversion;
        const mirror = result.testTimeAugmentation ? '; the mirror test-time augmentation inside' : '';
        printResult(flags.json, { out: result.out, labels: result.labels, bytes: c.wrote.bytes, testTimeAugmentation: result.testTimeAugmentation, check: c.check, notes: c.notes ?? [] }, () =>
          [
            `wrote ${result.out} (TF.js layers model, ${(c.wrote.bytes / 1e6).toFixed(1)} MB, labels and preprocessing in graft-model.json${mirror})`,
            ...checkLines(c.check),
            ...(c.notes ?? []).map((n) => `note   ${n}`),
            'load it with tf.loadLayersModel(\'<url>/model.json\'); it takes NHWC images',
          ].join('\n'),
        );
        return;
      }
      if (flags.to === 'teachable-machine') {
        const result = await exportTeachableMachine(modelDir, { out: flags.out, overwrite: flags.overwrite });
        printResult(flags.json, result, () => teachableMachineLines(result));
        return;
      }
      if (flags.to !== 'web') {
        throw new GraftError('INVALID_CONFIG', `Unknown export target "${flags.to}". Must be one of: web, tfjs, teachable-machine`, {
          hint: 'for TF.js or ONNX files of a backbone, see `graft convert`',
        });
      }
      const result = await exportWeb(modelDir, { out: flags.out, overwrite: flags.overwrite, engine: flags.engine as NonNullable<Parameters<typeof exportWeb>[1]>['engine'] });
      const total = result.files.reduce((a, f) => a + f.bytes, 0);
      printResult(flags.json, { out: result.out, engine: result.engine, engineReason: result.engineReason, files: result.files, bytes: total, labels: result.model.labels }, () =>
        [
          `wrote ${result.out} (${(total / 1e6).toFixed(1)} MB, runs with ${result.engine}: ${result.engineReason}):`,
          ...result.files.map((f) => `  ${f.name.padEnd(30)} ${(f.bytes / 1024).toFixed(0).padStart(7)} kB`),
          'serve it with any static server, e.g. `npx vite preview --outDir <dir>` or `python3 -m http.server -d <dir>`, and open index.html',
          '(browsers do not load the wasm runtime from file://)',
        ].join('\n'),
      );
    } catch (error) {
      reportFailure(error, flags.json);
    } finally {
      stopOnSignal();
    }
  });
}

function teachableMachineLines(r: TeachableMachineExport): string {
  const mirror = r.testTimeAugmentation ? '; the mirror test-time augmentation inside' : '';
  return [
    `wrote ${r.out} (a Teachable Machine image model: model.json, weights.bin, metadata.json; ${(r.bytes / 1e6).toFixed(1)} MB${mirror})`,
    `check  max abs diff ${r.check.maxAbsDiff.toExponential(2)} on ${r.check.inputs} (tolerance ${r.check.tolerance}) vs the converted classifier, fed by tf.image's resize`,
    ...(r.check.features ? [`       its features (of each view): max abs diff ${r.check.features.maxAbsDiff.toExponential(2)} (tolerance ${r.check.features.tolerance})`] : []),
    `       vs model.onnx in onnxruntime (not gated): max abs diff ${r.check.onnxruntime.maxAbsDiff.toExponential(2)}`,
    ...r.notes.map((n) => `note   ${n}`),
    `load it as Teachable Machine's own: tmImage.load(URL + 'model.json', URL + 'metadata.json'), or ml5.imageClassifier(URL + 'model.json'), URL being where the folder is served; it takes ${r.imageSize} x ${r.imageSize} images scaled v / 127 - 1, as they feed`,
  ].join('\n');
}
