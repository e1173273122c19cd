import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import { reportFailure, setVerbose } from './output.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

type Register = (program: Command) => void;

/**
 * Every command, in the order `graft --help` lists them, each loaded only when needed: a command's module pulls in
 * what it runs (tfjs, fastify, Parquet, ...), so `graft predict` should not pay for `graft serve` (about 2 s of
 * imports on 2 cores before this).
 */
const COMMANDS: Readonly<Record<string, () => Promise<Register>>> = {
  demo: async () => (await import('./commands/demo.js')).registerDemo,
  train: async () => (await import('./commands/train.js')).registerTrain,
  embed: async () => (await import('./commands/embed.js')).registerEmbed,
  features: async () => (await import('./commands/features.js')).registerFeatures,
  eval: async () => (await import('./commands/eval.js')).registerEval,
  predict: async () => (await import('./commands/predict.js')).registerPredict,
  inspect: async () => (await import('./commands/inspect.js')).registerInspect,
  models: async () => (await import('./commands/models.js')).registerModels,
  convert: async () => (await import('./commands/convert.js')).registerConvert,
  serve: async () => (await import('./commands/serve.js')).registerServe,
  ui: async () => (await import('./commands/ui.js')).registerUi,
  report: async () => (await import('./commands/report.js')).registerReport,
  export: async () => (await import('./commands/export.js')).registerExport,
};

/** The command argv names (the first word that is not an option; graft's global options take no value), if any. */
function commandOf(argv: readonly string[]): string | undefined {
  return argv.slice(2).find((arg) => !arg.startsWith('-'));
}

/**
 * Builds the `graft` command line. Each command turns flags into the library's options and renders its events.
 * Given argv naming a known command, only that command is registered (and loaded); otherwise all are, for help.
 */
export async function buildProgram(argv?: readonly string[]): Promise<Command> {
  const program = new Command('graft')
    .description('Transfer learning on images: pretrained backbone + new head, trained on your labelled photos')
    .version(version)
    .option('--verbose', 'print the details (stack) of an internal error')
    .showHelpAfterError()
    // Usage errors (unknown option, missing argument) exit 2 as the README promises, not commander's 1.
    .exitOverride();
  program.hook('preAction', (command) => setVerbose(Boolean(command.optsWithGlobals().verbose)));
  const name = argv ? commandOf(argv) : undefined;
  const onlyVersion = name === undefined && argv !== undefined && argv.some((a) => a === '--version' || a === '-V');
  const names = name !== undefined && Object.hasOwn(COMMANDS, name) ? [name] : onlyVersion ? [] : Object.keys(COMMANDS);
  const registers = await Promise.all(names.map((n) => COMMANDS[n]!()));
  for (const register of registers) register(program);
  return program;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  try {
    await (await buildProgram(argv)).parseAsync(argv);
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
