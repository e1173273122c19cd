import { Help } from 'commander';
import { describe, expect, it } from 'vitest';
import { COMMAND_SUMMARIES, type CommandName } from '../../src/cli/command-summaries.js';
import { buildProgram } from '../../src/cli/main.js';

const names = Object.keys(COMMAND_SUMMARIES) as CommandName[];
const argvFor = (...words: string[]): string[] => ['node', 'graft', ...words];

describe('graft --help from summaries', () => {
  it.each(names)('%s: the summary is what the command itself declares', async (name) => {
    const program = await buildProgram(argvFor(name));
    const command = program.commands.find((c) => c.name() === name);
    expect(command, name).toBeDefined();
    // The loaded command carries no summary: its term is commander's own, from its options and arguments.
    expect(command!.summaryTerm).toBeUndefined();
    expect([new Help().subcommandTerm(command!), command!.description()]).toEqual(COMMAND_SUMMARIES[name]);
  });

  it('lists every command without loading one, and the same text as with all loaded', async () => {
    const overview = await buildProgram(argvFor('--help'));
    expect(overview.commands.map((c) => c.name())).toEqual(names);
    expect(overview.commands.every((c) => c.summaryTerm !== undefined)).toBe(true);
    // An unknown command loads them all (for commander's suggestions): its help is the reference text.
    const loaded = await buildProgram(argvFor('no-such-command'));
    expect(loaded.commands.every((c) => c.summaryTerm === undefined)).toBe(true);
    expect(overview.helpInformation()).toBe(loaded.helpInformation());
  });

  it('graft help <command> loads that command alone', async () => {
    const program = await buildProgram(argvFor('help', 'eval'));
    expect(program.commands.map((c) => c.name())).toEqual(['eval']);
    expect(program.commands[0]!.summaryTerm).toBeUndefined();
  });
});
