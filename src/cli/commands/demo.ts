import { existsSync, readdirSync } from 'node:fs';
import { GraftError } from '../../core/errors.js';
import { assertCanCreate } from '../../core/replaceable-output.js';
import { writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { writeSyntheticDataset } from '../../data/synthetic.js';
import { resolveBackbone } from '../../hub/resolve-backbone.js';
import { cacheDirFrom, modelDirsFromEnvironment } from '../environment.js';
import { CATALOGUE } from '../../hub/catalogue.js';
import { train } from '../../recipes/train.js';
import { formatReport } from '../../metrics/format-report.js';
import { evaluateModel } from '../../model/evaluate-model.js';
import { GraftModel } from '../../model/graft-model.js';
import { printResult, reportFailure, shellWord } from '../output.js';
import { renderProgress } from '../render-progress.js';

/**
 * Picks the best backbone available without the network: `mobilenet_v2` when the cache or GRAFT_MODELS_DIR has
 * it, else the MobileNetV2 bundled in the nsfwjs package (always installed, weaker general features).
 */
export async function bestOfflineBackbone(cacheDir: string): Promise<{ name: string; note: string }> {
  try {
    await resolveBackbone('mobilenet_v2', { cacheDir, modelDirs: modelDirsFromEnvironment(), offline: true });
    return { name: 'mobilenet_v2', note: CATALOGUE.mobilenet_v2.description };
  } catch {
    return {
      name: 'nsfwjs_mobilenet_v2',
      note: `${CATALOGUE.nsfwjs_mobilenet_v2.description}. Hub backbones are better: run \`graft train --backbone mobilenet_v2\` with network, or set GRAFT_MODELS_DIR to a folder holding ${CATALOGUE.mobilenet_v2.fileName}.`,
    };
  }
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('the whole workflow offline on images Graft draws itself: train, evaluate, write a report, predict')
    .option('--dir <dir>', 'where to put the demo data, model and report', 'graft-demo')
    .option('--cache-dir <dir>', 'feature and model cache')
    .option('--json', 'print one JSON object on stdout', false)
    .action(async (flags: { dir: string; cacheDir?: string; json: boolean }) => {
      const progress = renderProgress({ quiet: flags.json && !process.stderr.isTTY });
      let model: GraftModel | undefined;
      try {
        const root = resolve(flags.dir);
        const cacheDir = cacheDirFrom(flags.cacheDir);
        const dataDir = join(root, 'data');
        // A folder that cannot be written (read-only, or under a file) is said before anything is drawn.
        await assertCanCreate(join(root, 'model'), '--dir');
        assertDemoFolder(root);
        if (!existsSync(join(dataDir, 'train'))) {
          progress({ type: 'info', message: `drawing a demo dataset (circles, squares, triangles) in ${dataDir}` });
          await writeSyntheticDataset(dataDir, { perClass: 60, seed: 1 });
        }
        const backbone = await bestOfflineBackbone(cacheDir);
        progress({ type: 'info', message: `backbone: ${backbone.name}: ${backbone.note}` });
        const result = await train({ train: dataDir, backbone: backbone.name, out: join(root, 'model'), cacheDir, modelDirs: modelDirsFromEnvironment(), offline: true, onProgress: progress });
        model = await GraftModel.load(result.model);
        const evaluation = await evaluateModel(model, join(dataDir, 'val'));
        const reportPath = join(root, 'report.txt');
        await writeFile(reportPath, `${formatReport(evaluation)}\n`);
        await writeFile(join(root, 'eval.json'), `${JSON.stringify(evaluation, null, 2)}\n`);
        const samples = evaluation.misclassified.length ? [evaluation.misclassified[0]!.file!] : [];
        const { results } = await model.predict([...samples, join(dataDir, 'val', 'circles', 'circles_059.png')].filter((f) => existsSync(f)), { topK: 3 });
        progress.stop();
        const summary = {
          backbone: backbone.name,
          backboneNote: backbone.note,
          model: result.model,
          report: reportPath,
          data: dataDir,
          val: result.val,
          eval: { accuracy: evaluation.accuracy, count: evaluation.count },
          predictions: results,
          timings: result.timings,
        };
        const rel = (p: string): string => relative(process.cwd(), p) || '.';
        printResult(flags.json, summary, () =>
          [
            '',
            `backbone   ${backbone.name}`,
            `           ${backbone.note}`,
            `model      ${rel(result.model)} (graft.json, head.bin, model.onnx)`,
            `accuracy   ${evaluation.accuracy.toFixed(3)} on ${evaluation.count} held-out images`,
            `report     ${rel(reportPath)}`,
            '',
            formatReport(evaluation),
            '',
            ...results.map((r) => `predict ${rel(r.file)}: ${r.predictions.map((p) => `${p.label} ${(p.probability * 100).toFixed(1)}%`).join(', ')}`),
            '',
            'next:',
            `  graft predict ${shellWord(rel(result.model))} <image...>`,
            `  graft eval ${shellWord(rel(result.model))} ${shellWord(rel(join(dataDir, 'val')))}`,
            '  graft train <your-images> --backbone mobilenet_v2 --out my-model',
          ].join('\n'),
        );
      } catch (error) {
        progress.stop();
        reportFailure(error, flags.json);
      } finally {
        await model?.dispose();
      }
    });
}

/** What the demo writes in its folder; a killed run's working copies of the model start with `model.`. */
const DEMO_ENTRIES = new Set(['data', 'model', 'report.txt', 'eval.json']);
const DEMO_DATA_ENTRIES = new Set(['train', 'val']);

/**
 * Refuses, before anything is drawn, a --dir that holds other things than an earlier demo's: the demo draws its images
 * into `data/`, trains on whatever `data/train` holds, and replaces `report.txt` and `eval.json`, so an existing
 * project folder would get 180 drawn images among its own and lose files of those names.
 * @throws GraftError INVALID_CONFIG naming the folder and what it holds.
 */
function assertDemoFolder(root: string): void {
  const others = (dir: string, known: ReadonlySet<string>): string[] =>
    existsSync(dir) ? readdirSync(dir).filter((name) => !known.has(name) && !name.startsWith('.') && !(known === DEMO_ENTRIES && name.startsWith('model.'))) : [];
  const found = [...others(root, DEMO_ENTRIES).map((name) => join(root, name)), ...others(join(root, 'data'), DEMO_DATA_ENTRIES).map((name) => join(root, 'data', name))];
  if (found.length === 0) return;
  throw new GraftError('INVALID_CONFIG', `--dir ${root} holds files that are not the demo's (${found.slice(0, 3).join(', ')}${found.length > 3 ? ', ...' : ''}); the demo draws images into its data/ and replaces its report.txt and eval.json`, {
    hint: 'choose a --dir that is new, empty, or an earlier demo folder (default ./graft-demo)',
  });
}
