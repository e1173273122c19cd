import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import { registerConvert } from './commands/convert.js';
import { registerDemo } from './commands/demo.js';
import { registerEmbed } from './commands/embed.js';
import { registerEval } from './commands/eval.js';
import { registerInspect } from './commands/inspect.js';
import { registerModels } from './commands/models.js';
import { registerExport } from './commands/export.js';
import { registerFeatures } from './commands/features.js';
import { registerPredict } from './commands/predict.js';
import { registerReport } from './commands/report.js';
import { registerServe } from './commands/serve.js';
import { registerTrain } from './commands/train.js';
import { registerUi } from './commands/ui.js';
import { reportFailure, setVerbose } from './output.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

/** Builds the `graft` command line. Each command turns flags into the library's options and renders its events. */
export function buildProgram(): Command {
  const program = new Command('graft')
    .description('Transfer learning on images: pretrained backbone + new head, trained on your labelled photos')
    .version(version)
    .option('--verbose', 'print the details (stack) of an internal error')
    .showHelpAfterError()
    // Usage errors (unknown option, missing argument) exit 2 as the README promises, not commander's 1.
    .exitOverride();
  program.hook('preAction', (command) => setVerbose(Boolean(command.optsWithGlobals().verbose)));
  registerDemo(program);
  registerTrain(program);
  registerEmbed(program);
  registerFeatures(program);
  registerEval(program);
  registerPredict(program);
  registerInspect(program);
  registerModels(program);
  registerConvert(program);
  registerServe(program);
  registerUi(program);
  registerReport(program);
  registerExport(program);
  return program;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander has printed the message (and the help); --help and --version end here too, with 0.
      process.exitCode = error.exitCode === 0 ? 0 : 2;
      return;
    }
    setVerbose(argv.includes('--verbose'));
    reportFailure(error, argv.includes('--json'));
  }
}
