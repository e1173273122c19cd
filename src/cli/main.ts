import { createRequire } from 'node:module';
import { Command, CommanderError, Help } from 'commander';
import { turnOffOnnxruntimeTelemetry } from './onnxruntime-telemetry.js';
import { useProxyFromEnvironment } from './proxy-from-env.js';
import { reportFailure, setVerbose } from './output.js';
import { COMMAND_SUMMARIES, type CommandName } from './command-summaries.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

type Register = (program: Command) => void;

/**
 * Every command, in the order `graft --help` lists them, each loaded only when needed: a command's module pulls in
 * what it runs (tfjs, fastify, Parquet, ...), so `graft predict` should not pay for `graft serve` (about 2 s of
 * imports on 2 cores before this).
 */
const COMMANDS: Readonly<Record<CommandName, () => Promise<Register>>> = {
  demo: async () => (await import('./commands/demo.js')).registerDemo,
  train: async () => (await import('./commands/train.js')).registerTrain,
  embed: async () => (await import('./commands/embed.js')).registerEmbed,
  features: async () => (await import('./commands/features.js')).registerFeatures,
  eval: async () => (await import('./commands/eval.js')).registerEval,
  predict: async () => (await import('./commands/predict.js')).registerPredict,
  inspect: async () => (await import('./commands/inspect.js')).registerInspect,
  download: async () => (await import('./commands/download.js')).registerDownload,
  models: async () => (await import('./commands/models.js')).registerModels,
  cache: async () => (await import('./commands/cache.js')).registerCache,
  convert: async () => (await import('./commands/convert.js')).registerConvert,
  serve: async () => (await import('./commands/serve.js')).registerServe,
  ui: async () => (await import('./commands/ui.js')).registerUi,
  report: async () => (await import('./commands/report.js')).registerReport,
  export: async () => (await import('./commands/export.js')).registerExport,
};

/**
 * The command argv names (the first word that is not an option; graft's global options take no value), if any;
 * for `graft help <command>`, that command.
 */
function commandOf(argv: readonly string[]): string | undefined {
  const words = argv.slice(2).filter((arg) => !arg.startsWith('-'));
  return words[0] === 'help' && words[1] !== undefined && isCommand(words[1]) ? words[1] : words[0];
}

const isCommand = (name: string): name is CommandName => Object.hasOwn(COMMANDS, name);

/**
 * Whether argv runs `graft serve` or `graft ui` with `--log json`, read before commander parses it, so that a usage
 * error (a missing model folder, `--port abc`) is one JSON line on stderr too, not commander's text and help.
 */
function asksJsonLog(argv: readonly string[]): boolean {
  const args = argv.slice(2);
  const command = commandOf(argv);
  return (command === 'serve' || command === 'ui') && args.some((arg, i) => arg === '--log=json' || (arg === '--log' && args[i + 1] === 'json'));
}

/** The overview's entry for a command that is not loaded: its summary, and help if it is run after all. */
function registerSummary(program: Command, name: CommandName): void {
  const [term, description] = COMMAND_SUMMARIES[name];
  program.command(name).description(description).summaryTerm = term;
}

declare module 'commander' {
  interface Command {
    /** Set on a command registered from its summary alone: the usage term the overview shows for it. */
    summaryTerm?: string;
  }
}

/**
 * Builds the `graft` command line. Each command turns flags into the library's options and renders its events.
 * Given argv naming a known command, only that command is registered (and loaded). Given none (the overview: `graft`,
 * `graft --help`), every command is listed from its summary and none is loaded; given an unknown one, all are loaded,
 * for commander's error and suggestions.
 */
export async function buildProgram(argv?: readonly string[]): Promise<Command> {
  const program = new Command('graft')
    // `graft serve|ui --log json` promises JSON lines only on stderr: main() reports a usage error as one.
    .configureOutput(argv && asksJsonLog(argv) ? { outputError: () => {}, writeErr: () => {} } : {})
    .description('Transfer learning on images: pretrained backbone + new head, trained on your labelled photos')
    .version(version)
    .option('--verbose', 'print the details (stack) of an internal error')
    .showHelpAfterError()
    .configureHelp({ subcommandTerm: (command) => command.summaryTerm ?? defaultTerm(command) })
    // Usage errors (unknown option, missing argument) exit 2 as the README promises, not commander's 1.
    .exitOverride();
  program.hook('preAction', (command) => setVerbose(Boolean(command.optsWithGlobals().verbose)));
  const name = argv ? commandOf(argv) : undefined;
  const names = Object.keys(COMMANDS) as CommandName[];
  if (argv !== undefined && name === undefined) {
    for (const n of names) registerSummary(program, n);
    return program;
  }
  const chosen = name !== undefined && isCommand(name) ? [name] : names;
  const registers = await Promise.all(chosen.map((n) => COMMANDS[n]()));
  for (const register of registers) register(program);
  return program;
}

/** commander's own usage term for a command in the overview. */
const defaultTerm = (command: Command): string => new Help().subcommandTerm(command);

export async function main(argv: string[] = process.argv): Promise<void> {
  turnOffOnnxruntimeTelemetry();
  let endProxy: (() => Promise<void>) | undefined;
  try {
    endProxy = await useProxyFromEnvironment(process.env);
    await (await buildProgram(argv)).parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander has printed the message (and the help) on stderr; --help and --version end here too, with 0.
      // A usage error with --json is still the one JSON value on stdout that scripts parse.
      if (error.exitCode !== 0 && argv.includes('--json')) {
        const message = error.message.replace(/^error: /, '');
        process.stdout.write(`${JSON.stringify({ error: { code: 'INVALID_CONFIG', message, hint: 'see --help' } }, null, 2)}\n`);
      }
      if (error.exitCode !== 0 && asksJsonLog(argv)) {
        // Shaped as the server's JSON notices (server-log.ts), which this module does not load.
        const failure = { time: new Date().toISOString(), event: 'error', level: 'error', message: error.message.replace(/^error: /, ''), code: 'INVALID_CONFIG', hint: `see graft ${commandOf(argv)} --help` };
        process.stderr.write(`${JSON.stringify(failure)}\n`);
      }
      process.exitCode = error.exitCode === 0 ? 0 : 2;
      return;
    }
    setVerbose(argv.includes('--verbose'));
    reportFailure(error, argv.includes('--json'));
  } finally {
    // Every command is done here (servers return once they have stopped).
    await endProxy?.();
  }
}
