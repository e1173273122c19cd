/**
 * `graft eval <model> <data> --compare <other>`: two models scored on the same images, and whether the gap between
 * them is more than the images' luck (a point on 150 test images is one or two images).
 */
import { basename, resolve } from 'node:path';
import { GraftError } from '../core/errors.js';
import type { ProgressListener } from '../core/progress.js';
import type { ProportionInterval } from '../metrics/interval.js';
import { compareEvaluations, evaluateModel, type EvaluationComparison } from '../model/evaluate-model.js';
import { GraftModel } from '../model/graft-model.js';
import { printable } from './output.js';

/** One model's scores in a comparison. */
export interface ComparedModel {
  /** The model directory, as given. */
  readonly model: string;
  readonly accuracy: number;
  readonly accuracyInterval: ProportionInterval;
  readonly balancedAccuracy: number;
  readonly macroF1: number;
  readonly logLoss?: number;
}

/** What `graft eval --compare` prints (`--json`: as is): both models' scores, then the image-by-image comparison. */
export interface ModelComparison extends EvaluationComparison {
  /** The folder or manifest scored, and which part of a split manifest. */
  readonly dataset: string;
  readonly part?: string;
  readonly models: readonly [ComparedModel, ComparedModel];
}

/** Scores both models on `dataset`, then compares them image by image. Both are loaded first: a wrong path fails at once. */
export async function compareModels(modelDirs: readonly [string, string], dataset: string, options: { onProgress?: ProgressListener; labelPattern?: string }): Promise<ModelComparison> {
  const models: GraftModel[] = [];
  const evaluations = [];
  try {
    for (const [i, dir] of modelDirs.entries()) models.push(await naming(i, dir, () => GraftModel.load(dir)));
    for (const [i, dir] of modelDirs.entries()) {
      options.onProgress?.({ type: 'info', message: `scoring model ${i + 1} of 2: ${dir}` });
      evaluations.push(await naming(i, dir, () => evaluateModel(models[i]!, dataset, { ...options, perImage: true })));
    }
  } finally {
    await Promise.all(models.map((m) => m.dispose()));
  }
  const [first, second] = evaluations as [(typeof evaluations)[number], (typeof evaluations)[number]];
  const scores = (model: string, e: typeof first): ComparedModel => ({
    model,
    accuracy: e.accuracy,
    accuracyInterval: e.accuracyInterval,
    balancedAccuracy: e.balancedAccuracy,
    macroF1: e.macroF1,
    ...(e.logLoss !== undefined ? { logLoss: e.logLoss } : {}),
  });
  return {
    dataset: first.dataset,
    ...(first.part ? { part: first.part } : {}),
    models: [scores(modelDirs[0], first), scores(modelDirs[1], second)],
    ...compareEvaluations(first, second),
  };
}

/** The comparison as text: a row per model, then the images they disagree on and what the test makes of them. */
export function formatComparison(c: ModelComparison): string {
  const names = modelNames(c.models.map((m) => m.model));
  const width = Math.max(5, ...names.map((n) => n.length));
  const hasLogLoss = c.models.every((m) => m.logLoss !== undefined);
  const fixed = (x: number): string => x.toFixed(4);
  const header = `${'model'.padEnd(width)}  accuracy  95% interval     balanced  macro F1${hasLogLoss ? '  log-loss' : ''}`;
  const rows = c.models.map((m, i) => {
    const interval = `${fixed(m.accuracyInterval.low)}-${fixed(m.accuracyInterval.high)}`;
    return `${names[i]!.padEnd(width)}  ${fixed(m.accuracy)}    ${interval.padEnd(15)}  ${fixed(m.balancedAccuracy)}    ${fixed(m.macroF1)}${hasLogLoss ? `    ${fixed(m.logLoss!)}` : ''}`;
  });
  const p = c.paired;
  const [a, b] = names as [string, string];
  const verdict =
    p.onlyFirst + p.onlySecond === 0
      ? 'They are right and wrong on the same images: nothing tells them apart here.'
      : p.pValue < 0.05
        ? `McNemar's exact test: p = ${formatP(p.pValue)}. ${p.onlyFirst > p.onlySecond ? a : b} is better on images like these; chance alone would rarely split the disagreements so unevenly.`
        : `McNemar's exact test: p = ${formatP(p.pValue)}. The difference may be chance (p ≥ 0.05): more test images would tell.`;
  // The images each gets right alone, a few of each: what to open to see the difference (--json lists them all).
  const onlyRight = (model: 0 | 1): string[] => {
    const right = c.disagreements.filter((d) => d.predicted[model] === d.label);
    const shown = right.slice(0, MAX_DISAGREEMENT_LINES).map((d) => `  ${printable(d.file)}: ${printable(d.label)}, ${names[1 - model]} said ${printable(d.predicted[1 - model]!)}`);
    if (right.length > shown.length) shown.push(`  ... and ${right.length - shown.length} more (--json lists them all)`);
    return shown.length ? [`Right only by ${names[model]}:`, ...shown] : [];
  };
  return [
    `${c.dataset}${c.part ? ` (its ${c.part} rows)` : ''}: ${p.count} images scored by both`,
    header,
    ...rows,
    '',
    `${b} is right where ${a} is wrong on ${p.onlySecond} image${p.onlySecond === 1 ? '' : 's'}, and the reverse on ${p.onlyFirst}; both are right on ${p.bothRight}, both wrong on ${p.bothWrong}.`,
    verdict,
    ...onlyRight(0),
    ...onlyRight(1),
  ].join('\n');
}

/** Images listed under each "Right only by" heading of the text; `--json` holds them all. */
const MAX_DISAGREEMENT_LINES = 10;

/** `work()`, its failure saying which of the two models it is about (where its message does not name the folder). */
async function naming<T>(index: number, dir: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof GraftError && !error.message.includes(dir)) throw new GraftError(error.code, `Model ${index + 1} (${dir}): ${error.message}`, { hint: error.hint, cause: error });
    throw error;
  }
}

/** Each model by its folder's name, or by the path given where the two folders share a name (`a/model`, `b/model`). */
function modelNames(dirs: readonly string[]): string[] {
  const short = dirs.map((d) => basename(resolve(d)));
  return new Set(short).size === short.length ? short : [...dirs];
}

function formatP(p: number): string {
  return p < 0.001 ? p.toExponential(1) : p.toPrecision(2);
}
