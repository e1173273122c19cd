import { Option, type Command } from 'commander';
import { CONVERT_TARGETS, convertModel, type ConversionReport, type ConvertTarget } from '../../convert/convert-model.js';
import { backboneSearch, cacheDirFrom } from '../environment.js';
import { parsePositiveNumber } from '../options.js';
import { printResult, reportFailure } from '../output.js';
import { renderProgress } from '../render-progress.js';
import { stopWritingOnSignal } from '../until-signal.js';

interface ConvertFlags {
  to: ConvertTarget;
  out?: string;
  tolerance: number;
  architecture?: string;
  cacheDir?: string;
  offline: boolean;
  json: boolean;
}

export function registerConvert(program: Command): void {
  program
    .command('convert')
    .description(
      'convert a model between formats (TF.js layers/graph, Keras .h5 -> ONNX or TF.js; ONNX -> TF.js layers) and check the result numerically; nothing is written when the check fails',
    )
    .argument('<input>', 'model file or folder: .onnx, .h5 (full model, or weights-only with --architecture), or a TF.js folder with model.json')
    .addOption(new Option('--to <format>', 'output format').choices([...CONVERT_TARGETS]).makeOptionMandatory())
    .option('--out <path>', 'output .onnx file or TF.js folder (default: beside the input)')
    .option('--tolerance <maxAbsDiff>', 'largest accepted difference between source and converted outputs (above 0)', parsePositiveNumber, 1e-4)
    .option(
      '--architecture <model>',
      'for a weights-only .h5 (model.save_weights): the architecture it was saved from, as a TF.js model.json or folder, a full Keras .h5, or a catalogue name (mobilenet_v2_035, nsfwjs_mobilenet_v2)',
    )
    .option('--cache-dir <dir>', 'model cache for a catalogue --architecture (default: $GRAFT_CACHE_DIR or the user cache folder)')
    .option('--offline', 'never download a catalogue --architecture', false)
    .option('--json', 'print one JSON object on stdout', false)
    .addHelpText(
      'after',
      `
ONNX -> TF.js writes a layers model (model.json + weights.bin) that tf.loadLayersModel reads. Its input is NHWC
([N, H, W, C]) where the ONNX input was NCHW: transpose your inputs. Quantized ONNX models (QLinearConv, ...)
become float layers with dequantized weights; the check then compares with the float import of the same graph
and reports the difference from onnxruntime's integer kernels separately.

Examples:
  graft convert tm-model/ --to onnx
  graft convert mobilenetv2-12-int8.onnx --to tfjs --out mobilenetv2-tfjs/
  graft convert weights.h5 --architecture model.json --to onnx
  graft convert weights.h5 --architecture mobilenet_v2_035 --to tfjs --out tm-tfjs/`,
    )
    .action(async (input: string, flags: ConvertFlags) => {
      // Only warnings (a tfjs cpu fallback) reach the terminal: a conversion has no progress to draw.
      const progress = renderProgress({ quiet: true });
      const stopOnSignal = stopWritingOnSignal('graft convert', flags.json);
      try {
        const report = await convertModel(input, {
          to: flags.to,
          out: flags.out,
          tolerance: flags.tolerance,
          architecture: flags.architecture,
          cacheDir: cacheDirFrom(flags.cacheDir),
          ...backboneSearch(),
          offline: flags.offline,
          onProgress: progress,
        });
        progress.stop();
        printResult(flags.json, report, () => formatReport(report));
      } catch (error) {
        progress.stop();
        reportFailure(error, flags.json);
      } finally {
        stopOnSignal();
      }
    });
}

function formatReport(report: ConversionReport): string {
  const shape = (dims: readonly number[] | undefined) => `[${(dims ?? []).join(', ')}]`;
  const wroteShapes = report.wrote.inputShape ? `, input ${shape(report.wrote.inputShape)}, output ${shape(report.wrote.outputShape)}` : '';
  const lines = [
    `read   ${report.read.path} (${report.read.format}, input ${shape(report.read.inputShape)}, output ${shape(report.read.outputShape)})`,
    `wrote  ${report.wrote.path} (${report.wrote.format}, ${(report.wrote.bytes / 1e6).toFixed(2)} MB${wroteShapes})`,
    ...checkLines(report.check),
  ];
  for (const note of report.notes ?? []) lines.push(`note   ${note}`);
  lines.push(`time   ${report.seconds.toFixed(2)} s`);
  return lines.join('\n');
}

/** The numerical check, as `graft convert` and `graft export --to tfjs` print it: against what, and onnxruntime's difference where it is not the gate. */
export function checkLines(check: ConversionReport['check']): string[] {
  const lines = [`check  max abs diff ${check.maxAbsDiff.toExponential(2)} on ${check.inputs} (tolerance ${check.tolerance})${check.reference ? ` vs ${check.reference}` : ''}`];
  if (check.onnxruntime) lines.push(`       vs onnxruntime (integer kernels, not gated): max abs diff ${check.onnxruntime.maxAbsDiff.toExponential(2)}`);
  return lines;
}
