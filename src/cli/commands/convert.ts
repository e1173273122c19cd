import { Option, type Command } from 'commander';
import { convertModel, type ConvertTarget } from '../../formats/convert-model.js';
import { parseNumber } from '../options.js';
import { printResult, reportFailure } from '../output.js';

export function registerConvert(program: Command): void {
  program
    .command('convert')
    .description('convert a model between formats (TF.js layers, Keras .h5 -> ONNX or TF.js) and check the result numerically')
    .argument('<input>', 'model file or folder: .onnx, .h5, or a TF.js folder with model.json')
    .addOption(new Option('--to <format>', 'output format').choices(['onnx', 'tfjs']).makeOptionMandatory())
    .option('--out <path>', 'output .onnx file or TF.js folder (default: beside the input)')
    .option('--tolerance <maxAbsDiff>', 'largest accepted difference between source and converted outputs', parseNumber, 1e-4)
    .option('--json', 'print one JSON object on stdout', false)
    .action(async (input: string, flags: { to: ConvertTarget; out?: string; tolerance: number; json: boolean }) => {
      try {
        const report = await convertModel(input, { to: flags.to, out: flags.out, tolerance: flags.tolerance });
        printResult(flags.json, report, () =>
          [
            `read   ${report.read.path} (${report.read.format}, input [${report.read.inputShape.join(', ')}], output [${report.read.outputShape.join(', ')}])`,
            `wrote  ${report.wrote.path} (${report.wrote.format}, ${(report.wrote.bytes / 1e6).toFixed(2)} MB)`,
            `check  max abs diff ${report.check.maxAbsDiff.toExponential(2)} on ${report.check.inputs} (tolerance ${report.check.tolerance})`,
            `time   ${report.seconds.toFixed(2)} s`,
          ].join('\n'),
        );
      } catch (error) {
        reportFailure(error, flags.json);
      }
    });
}
