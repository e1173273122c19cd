import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildProgram, main } from '../../src/cli/main.js';
import { tempDir } from '../support.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `graft <words>` in this process: what it prints and the exit code it sets (commands set process.exitCode). */
async function graft(...words: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
  try {
    await main(['node', 'graft', ...words]);
    return { code: Number(process.exitCode ?? 0), stdout, stderr };
  } finally {
    vi.restoreAllMocks();
    process.exitCode = undefined;
  }
}

const helpOf = async (command: string): Promise<string> => (await buildProgram(['node', 'graft', command])).commands.find((c) => c.name() === command)!.helpInformation();

afterEach(() => {
  process.exitCode = undefined;
});

describe('one flag name for one idea', () => {
  it('the feature store folder is --store in embed, features import and train; --help shows no other name', async () => {
    for (const command of ['embed', 'train']) expect(await helpOf(command), command).toMatch(/^ {2}--store <[\w-]+>/m);
    const train = await helpOf('train');
    expect(train).not.toContain('--features');
    // The options that only apply to a store say so by its flag.
    for (const flag of ['--in-memory-rows', '--selection-rows', '--work-dir']) expect(train).toMatch(new RegExp(`${flag} <\\w+> +with --store`));
    const features = (await buildProgram(['node', 'graft', 'features'])).commands[0]!.commands.find((c) => c.name() === 'import')!;
    expect(features.helpInformation()).toMatch(/--store <dir>/);
    expect(features.description()).toContain('graft train --store');
  });

  it('graft train --store is the feature store; --features, its old spelling, still is, and stderr gives the new name', async () => {
    const root = await tempDir('graft-flag-names-');
    const store = join(root, 'store');
    await mkdir(store);
    // --fine-tune is refused for a store before anything is read: the refusal shows the folder was taken as one.
    const byStore = await graft('train', '--store', store, '--fine-tune', '--out', join(root, 'm'), '--json');
    const refusal = { code: 'INVALID_CONFIG', message: '--fine-tune cannot be used when training from a feature store: the store holds features, not images.', hint: 'fine-tune from the image folder instead' };
    expect([byStore.code, JSON.parse(byStore.stdout)]).toEqual([2, { error: refusal }]);
    expect(byStore.stderr).not.toContain('warning');
    const byOldName = await graft('train', '--features', store, '--fine-tune', '--out', join(root, 'm'), '--json');
    expect([byOldName.code, JSON.parse(byOldName.stdout)]).toEqual([2, { error: refusal }]);
    expect(byOldName.stderr).toContain('warning: --features is now --store (the old name still works)\n');

    // The messages about the store name the flag --help shows.
    const both = await graft('train', root, '--features', store, '--out', join(root, 'm'));
    expect(both.code).toBe(2);
    expect(both.stderr).toContain(`error: Pass either a data folder or --store <store-dir>, not both. Received: ${root} and --store ${store}\n`);
    const storeOnly = await graft('train', root, '--in-memory-rows', '5', '--out', join(root, 'm'));
    expect(storeOnly.stderr).toContain('error: --in-memory-rows applies only to training from a feature store (--store).\n');
    const none = await graft('train', '--out', join(root, 'm'));
    expect(none.stderr).toContain('or --store <store-dir>.\n  hint: e.g. graft train photos/ --out model, or graft train --store features/ --out model\n');
  });

  it('what a model becomes is --to in graft convert and graft export; --target, export\'s first name for it, still works', async () => {
    expect(await helpOf('convert')).toMatch(/^ {2}--to <format>/m);
    const help = await helpOf('export');
    expect(help).toMatch(/^ {2}--to <target> +what to export for: web, tfjs or teachable-machine/m);
    expect(help).not.toContain('--target');
    expect((await buildProgram(['node', 'graft', 'export'])).commands[0]!.description()).toMatch(/--to web writes .*; --to tfjs writes/);
    // An unknown one is refused by name before the model is read; a missing one is a usage error naming --to.
    const dir = await tempDir('graft-flag-names-');
    const refusal = { code: 'INVALID_CONFIG', message: 'Unknown export target "coreml". Must be one of: web, tfjs, teachable-machine', hint: 'for TF.js or ONNX files of a backbone, see `graft convert`' };
    const byTo = await graft('export', dir, '--to', 'coreml', '--json');
    expect([byTo.code, JSON.parse(byTo.stdout), byTo.stderr.includes('warning')]).toEqual([2, { error: refusal }, false]);
    const byTarget = await graft('export', dir, '--target', 'coreml', '--json');
    expect([byTarget.code, JSON.parse(byTarget.stdout)]).toEqual([2, { error: refusal }]);
    expect(byTarget.stderr).toContain('warning: --target is now --to (the old name still works)\n');
    const missing = await graft('export', dir);
    expect([missing.code, missing.stderr]).toEqual([2, expect.stringContaining("error: required option '--to <target>' not specified")]);
  });
});
