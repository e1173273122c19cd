import { execFile } from 'node:child_process';
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CATALOGUE } from '../../src/hub/catalogue.js';
import { copySubset, hasShared, hymenoptera, int8Model, repoRoot, skipReason, tempDir } from '../support.js';

const run = promisify(execFile);

/**
 * The ```ts blocks of README's "The library" section: the first is the example every user starts from (run here);
 * the others show the parts that replace its steps (type-checked here, each as its own module).
 */
async function readmeExamples(): Promise<string[]> {
  const readme = await readFile(join(repoRoot, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## The library'), readme.indexOf('\n## ', readme.indexOf('## The library') + 1));
  const blocks = [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!);
  if (blocks.length === 0) throw new Error('README.md has no ```ts block under "## The library"');
  return blocks;
}

/**
 * better-sqlite3's install script runs prebuild-install, which downloads the addon built for this Node from GitHub,
 * as a user's install does; where it cannot (CI reaches only the registry), it compiles SQLite from source, about
 * 100 s on 2 cores. The repository's own install built that addon from the same package for this same Node: packed
 * as the prebuild file prebuild-install looks for, it is offered through a .prebuild-installrc in `root`, above the
 * project (prebuild-install reads it from the folders above the package; the project itself stays as a user's).
 * A consumer install that resolves another version finds no file of its name and compiles, as before.
 */
async function offerSqlitePrebuild(root: string): Promise<void> {
  const installed = join(repoRoot, 'node_modules/better-sqlite3');
  const { version } = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')) as { version: string };
  const prebuilds = join(root, 'prebuilds');
  const stage = join(prebuilds, 'stage');
  await mkdir(join(stage, 'build/Release'), { recursive: true });
  await copyFile(join(installed, 'build/Release/better_sqlite3.node'), join(stage, 'build/Release/better_sqlite3.node'));
  const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  await run('tar', ['-czf', join(prebuilds, name), '-C', stage, 'build']);
  await writeFile(join(root, '.prebuild-installrc'), JSON.stringify({ 'local-prebuilds': prebuilds }));
}

/**
 * The library as a user gets it: `npm pack`, installed with npm into a new project, which type-checks README's
 * example with `strict` and `skipLibCheck: false` (so no declaration Graft's public types reach may fail) and
 * runs it. The example runs verbatim: its photos are real ones in the project folder, and `mobilenet_v2` is the
 * shared int8 model placed in the user cache folder of a HOME made for the run (the library reads no
 * environment, so that cache is where a catalogue name is found without the network).
 */
skipReason('the packed-library test');
describe.skipIf(!hasShared)('the packed library in a consumer project', () => {
  let root: string;
  let project: string;
  beforeAll(async () => {
    root = await tempDir('graft-consumer-');
    project = join(root, 'project');
    await mkdir(project);
    // `npm test` has just built dist/; prepare (the build) need not run again.
    await run('npm', ['pack', '--ignore-scripts', '--pack-destination', root], { cwd: repoRoot });
    const tarball = (await readdir(root)).find((f) => f.endsWith('.tgz'))!;
    const packageJson = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { allowScripts: Record<string, boolean> };
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', allowScripts: { ...packageJson.allowScripts, graft: false } }, null, 2));
    // Packages come from npm's cache when it has them (the repository's own `npm ci` filled it). --engine-strict: no
    // dependency may need a newer Node than the package says it runs on (cookie 2, through @fastify/cookie 11.1.1+ and
    // light-my-request 6.8+, needs Node 22; the repository's own overrides never reach a user's install).
    await offerSqlitePrebuild(root);
    await run('npm', ['install', '--prefer-offline', '--engine-strict', '--no-audit', '--no-fund', join(root, tarball)], { cwd: project, maxBuffer: 64 << 20, timeout: 15 * 60_000 });
    const examples = await readmeExamples();
    await writeFile(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          skipLibCheck: false,
          outDir: 'out',
          // Node's types from the repository: a Node project has them; nothing else is shared.
          types: ['node'],
          typeRoots: [join(repoRoot, 'node_modules/@types')],
        },
        files: examples.map((_, i) => `example${i === 0 ? '' : `-${i + 1}`}.ts`),
      }),
    );
    await writeFile(join(project, 'example.ts'), `${examples[0]!}\nconsole.log(JSON.stringify({ results, accuracy: report.accuracy }));\n`);
    for (const [i, example] of examples.entries()) if (i > 0) await writeFile(join(project, `example-${i + 1}.ts`), example);
    await copySubset(join(hymenoptera, 'train'), join(project, 'photos'), 6);
    await copySubset(join(hymenoptera, 'val'), join(project, 'test-photos'), 3);
    const bees = (await readdir(join(hymenoptera, 'val', 'bees'))).sort();
    await copyFile(join(hymenoptera, 'val', 'bees', bees[0]!), join(project, 'bee.jpg'));
    const models = join(root, 'home', '.cache', 'graft', 'models', 'mobilenet_v2');
    await mkdir(models, { recursive: true });
    await copyFile(int8Model, join(models, CATALOGUE.mobilenet_v2.fileName));
  }, 20 * 60_000);
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('type-checks README\'s example with strict and skipLibCheck: false', async () => {
    const tsc = join(repoRoot, 'node_modules/typescript/bin/tsc');
    const result = await run(process.execPath, [tsc, '-p', project], { cwd: project }).catch((error: { stdout: string; stderr: string }) => error);
    expect(`${result.stdout}${result.stderr}`).toBe('');
  }, 5 * 60_000);

  it('runs it: trains, fine-tunes, predicts and evaluates', async () => {
    // Only what any shell has: the library must not need GRAFT_CACHE_DIR or GRAFT_MODELS_DIR to find the backbone.
    const env = { PATH: process.env.PATH ?? '', HOME: join(root, 'home') };
    const { stdout } = await run(process.execPath, [join(project, 'out', 'example.js')], { cwd: project, env, maxBuffer: 64 << 20, timeout: 15 * 60_000 });
    const last = JSON.parse(stdout.trim().split('\n').at(-1)!) as { results: { file: string; predictions: { label: string }[] }[]; accuracy: number };
    expect(last.results[0]!.predictions.map((p) => p.label).sort()).toEqual(['ants', 'bees']);
    expect(last.accuracy).toBeGreaterThan(0.5);
    expect((await readdir(join(project, 'model-ft'))).sort()).toContain('model.onnx');
  }, 15 * 60_000);

  it('lets tools read its version, and its source maps carry their sources (the package ships no src/)', async () => {
    const { stdout } = await run(process.execPath, ['-p', "require('graft/package.json').version"], { cwd: project });
    expect(stdout.trim()).toBe((JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version);
    const map = JSON.parse(await readFile(join(project, 'node_modules/graft/dist/model/graft-model.js.map'), 'utf8')) as { sources: string[]; sourcesContent?: string[] };
    expect(map.sourcesContent?.[0]).toContain('export class GraftModel');
  });
});
