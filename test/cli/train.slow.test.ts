import { existsSync } from 'node:fs';
import { createServer, get as httpGet, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { cp, mkdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../../src/data/scan-csv.js';
import { copySubset, hasShared, hymenoptera, int8FeatModel, int8Model, parseJsonOutput, repoRoot, runCli, sharedDir, skipReason, tempDir } from '../support.js';

interface TrainJson {
  model: string;
  labels: string[];
  head: { kind: 'linear' | 'mlp'; c?: number; trainViews?: string; tta: boolean };
  selection: { criterion: string; folds: number; chosen: { c: number; accuracy: number; logLoss: number }; table: { c: number; trainViews: string; tta: boolean; accuracy: number; logLoss: number }[] } | null;
  labelIssues: { file: string; given: string; predicted: string; confidence: number }[];
  val: { accuracy: number; loss: number } | null;
  timings: { extract_s: number; train_s: number; total_s: number };
  images: { train: number; val: number; skipped: { file: string; reason: string }[] };
  features: { computed: number; cached: number };
  data: { train: string; val: string | null; valSplit: number | null; valPart?: string };
}
interface EmbedJson {
  images: number;
  computed: number;
  cached: number;
  seconds: number;
}
interface EvalJson {
  accuracy: number;
  accuracyInterval: { level: number; low: number; high: number };
  top5?: number;
  perClass: Record<string, { precision: number; recall: number; f1: number; support: number }>;
  confusion: { labels: string[]; matrix: number[][] };
  misclassified: { file: string; true: string; predicted: string; confidence: number }[];
  balancedAccuracy: number;
  mostConfused: { true: string; predicted: string; count: number }[];
  logLoss: number;
  calibration: { ece: number; eceByChance: number; confidence: number; bins: { from: number; to: number; count: number; confidence: number; accuracy: number }[] };
}
type PredictJson = { file: string; predictions: { label: string; probability: number }[] }[];

skipReason('CLI train tests');
describe.skipIf(!hasShared)('CLI on real images and the real int8 MobileNetV2', () => {
  let root: string;
  let data: string;
  let cache: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    root = await tempDir();
    data = await copySubset(join(hymenoptera, 'train'), join(root, 'data'), 16);
    // Real-world bad inputs beside the photos: the dataset's own .gif, a corrupt JPEG, a zero-byte file, text named .jpg.
    await cp(join(hymenoptera, 'train/ants/imageNotFound.gif'), join(data, 'ants/imageNotFound.gif'));
    const jpeg = await readFile(join(data, 'bees', (await import('node:fs')).readdirSync(join(data, 'bees'))[0]!));
    await writeFile(join(data, 'bees/truncated.jpg'), jpeg.subarray(0, Math.floor(jpeg.length / 2)));
    await writeFile(join(data, 'bees/empty.jpg'), '');
    await writeFile(join(data, 'ants/notes.jpg'), 'these are my notes, not a photo\n');
    cache = join(root, 'cache');
    env = { GRAFT_CACHE_DIR: cache };
  });

  it('trains with --json, reports the bad files as skipped, and a rerun with another head computes no features', async () => {
    const first = await runCli(['train', data, '--val-split', '0.25', '--backbone', int8Model, '--out', join(root, 'model'), '--json'], env);
    expect(first.code, first.stderr).toBe(0);
    const r = parseJsonOutput<TrainJson>(first);
    expect(r.labels).toEqual(['ants', 'bees']);
    expect(r.model).toBe(join(root, 'model'));
    expect(r.val!.accuracy).toBeGreaterThanOrEqual(0.75);
    // The dataset's .gif is a real (if useless) image: handled, its first frame decoded like PIL does.
    expect(Object.keys(r.timings).sort()).toEqual(['extract_s', 'total_s', 'train_s']);
    expect(r.images.train + r.images.val).toBe(33);
    const skipped = Object.fromEntries(r.images.skipped.map((s) => [s.file.split('/').pop(), s.reason]));
    expect(Object.keys(skipped).sort()).toEqual(['empty.jpg', 'notes.jpg', 'truncated.jpg']);
    expect(skipped['empty.jpg']).toMatch(/zero-byte/);
    expect(skipped['notes.jpg']).toMatch(/not an image/);
    expect(skipped['truncated.jpg']).toMatch(/truncated|corrupt/i);
    expect(r.features.computed).toBeGreaterThan(0);
    for (const f of ['graft.json', 'model.onnx', 'head.bin']) expect(existsSync(join(r.model, f))).toBe(true);
    // The default head is linear and was chosen by cross-validation on the training images: the table is in --json.
    expect(r.head.kind).toBe('linear');
    expect(r.selection!.folds).toBeGreaterThanOrEqual(2);
    expect(r.selection!.table.length).toBeGreaterThan(2);
    expect(r.selection!.table).toContainEqual(expect.objectContaining({ c: r.head.c, trainViews: r.head.trainViews, tta: r.head.tta }));
    expect(r.selection!.chosen.logLoss).toBe(Math.min(...r.selection!.table.map((t) => t.logLoss)));
    expect(Array.isArray(r.labelIssues)).toBe(true);
    const manifest = JSON.parse(await readFile(join(r.model, 'graft.json'), 'utf8')) as { training: { outcome: { selection: unknown; labelIssues: unknown[] } } };
    expect(manifest.training.outcome.selection).toEqual(r.selection);
    expect(manifest.training.outcome.labelIssues).toEqual(r.labelIssues);

    const second = await runCli(['train', data, '--val-split', '0.25', '--backbone', int8Model, '--hidden', '64', '--epochs', '5', '--out', join(root, 'model2'), '--json'], env);
    expect(second.code, second.stderr).toBe(0);
    const r2 = parseJsonOutput<TrainJson>(second);
    expect(r2.features.computed).toBe(0);
    expect(r2.features.cached).toBe(r.features.computed);
  });

  it('embed --json follows the contract, and the cache notices a changed image and a changed model', async () => {
    const warm = parseJsonOutput<EmbedJson>(await runCli(['embed', data, '--backbone', int8Model, '--json'], env));
    expect(warm).toMatchObject({ images: 36, computed: 0, cached: 33 });
    expect(typeof warm.seconds).toBe('number');
    // Re-encode one photo: same file name, new content.
    const target = join(data, 'ants', (await import('node:fs')).readdirSync(join(data, 'ants')).filter((f) => f.endsWith('.jpg') && f !== 'notes.jpg')[0]!);
    await writeFile(target, await sharp(target).flop().jpeg().toBuffer());
    const changed = parseJsonOutput<EmbedJson>(await runCli(['embed', data, '--backbone', int8Model, '--json'], env));
    expect(changed).toMatchObject({ computed: 1, cached: 32 });
    // Another model file (same network with an extra output, so another sha256) must not reuse the vectors.
    const other = await runCli(['embed', data, '--backbone', int8FeatModel, '--scale', 'imagenet', '--json'], env);
    expect(other.code, other.stderr).toBe(0);
    expect(parseJsonOutput<EmbedJson>(other)).toMatchObject({ computed: 33, cached: 0 });
    // A split folder (train/ and val/), as --help says: both parts embedded. It was refused as "the parts of a split",
    // with a hint to rename train/ to train/.
    const split = join(root, 'embed-split');
    await cp(data, join(split, 'train'), { recursive: true });
    await cp(data, join(split, 'val'), { recursive: true });
    const both = await runCli(['embed', split, '--backbone', int8Model, '--json'], env);
    expect(both.code, both.stderr).toBe(0);
    expect(parseJsonOutput<EmbedJson>(both)).toMatchObject({ images: 72, computed: 0 });
  });

  it('eval and predict use the model directory alone, with the JSON contracts', async () => {
    const moved = join(root, 'elsewhere', 'model');
    await cp(join(root, 'model'), moved, { recursive: true });
    const isolated = { GRAFT_CACHE_DIR: join(root, 'empty-cache'), GRAFT_MODELS_DIR: '' };
    const ev = await runCli(['eval', moved, join(hymenoptera, 'val'), '--json'], isolated);
    expect(ev.code, ev.stderr).toBe(0);
    const report = parseJsonOutput<EvalJson>(ev);
    expect(report.accuracy).toBeGreaterThan(0.8);
    expect(report.top5).toBeUndefined();
    expect(Object.keys(report.perClass).sort()).toEqual(['ants', 'bees']);
    expect(report.perClass.ants!.support + report.perClass.bees!.support).toBe(153);
    expect(report.confusion.labels).toEqual(['ants', 'bees']);
    expect(report.confusion.matrix.flat().reduce((a, b) => a + b, 0)).toBe(153);
    // The model's outputs are probabilities: how far they can be taken at their word.
    const { matrix } = report.confusion;
    // 153 images pin the accuracy to within about ±4 points, no closer.
    expect(report.accuracyInterval.level).toBe(0.95);
    expect(report.accuracyInterval.low).toBeLessThan(report.accuracy);
    expect(report.accuracyInterval.high).toBeGreaterThan(report.accuracy);
    expect(report.accuracyInterval.high - report.accuracyInterval.low).toBeGreaterThan(0.05);
    expect(report.accuracyInterval.high - report.accuracyInterval.low).toBeLessThan(0.12);
    expect(report.balancedAccuracy).toBeCloseTo((matrix[0]![0]! / report.perClass.ants!.support + matrix[1]![1]! / report.perClass.bees!.support) / 2, 10);
    expect(report.mostConfused.reduce((sum, p) => sum + p.count, 0)).toBe(report.misclassified.length);
    expect(report.logLoss).toBeGreaterThan(0);
    expect(report.logLoss).toBeLessThan(0.5);
    expect(report.calibration.bins.reduce((sum, b) => sum + b.count, 0)).toBe(153);
    expect(report.calibration.bins[0]!.from).toBeGreaterThanOrEqual(0.5); // two classes: the top one is at least 0.5
    expect(report.calibration.ece).toBeLessThan(0.1);
    // What a calibrated model reaches by chance on 153 images at these confidences: a few points, not zero.
    expect(report.calibration.eceByChance).toBeGreaterThan(0.01);
    expect(report.calibration.eceByChance).toBeLessThan(0.1);
    for (const m of report.misclassified) {
      expect(m.true).not.toBe(m.predicted);
      expect(existsSync(m.file)).toBe(true);
    }
    // Every image as CSV, in the dataset's order: the same mistakes as the JSON's, the scores on stderr.
    const evCsv = await runCli(['eval', moved, join(hymenoptera, 'val'), '--csv'], isolated);
    expect(evCsv.code, evCsv.stderr).toBe(0);
    const scored = parseCsv(evCsv.stdout).map((r) => r.fields);
    expect(scored[0]).toEqual(['path', 'label', 'predicted', 'probability', 'label_probability', 'correct', 'error']);
    expect(scored).toHaveLength(154);
    const wrong = scored.slice(1).filter((r) => r[5] === 'false');
    expect(wrong.map((r) => r[0]).sort()).toEqual(report.misclassified.map((m) => m.file).sort());
    for (const r of scored.slice(1)) expect(r[5] === 'true').toBe(r[1] === r[2]);
    expect(evCsv.stderr).toMatch(new RegExp(`153 images, accuracy ${report.accuracy.toFixed(4)}, ${report.misclassified.length} misclassified`));
    // Against the MLP head trained beside it, on the same images: the disagreements counted image by image.
    const compared = await runCli(['eval', moved, join(hymenoptera, 'val'), '--compare', join(root, 'model2'), '--json'], isolated);
    expect(compared.code, compared.stderr).toBe(0);
    const c = parseJsonOutput<{ models: { model: string; accuracy: number; accuracyInterval: { low: number; high: number } }[]; paired: { count: number; bothRight: number; onlyFirst: number; onlySecond: number; bothWrong: number; pValue: number }; disagreements: { file: string; label: string; predicted: [string, string] }[] }>(compared);
    expect(c.models.map((m) => m.model)).toEqual([moved, join(root, 'model2')]);
    expect(c.models[0]!.accuracy).toBe(report.accuracy);
    expect(c.paired.count).toBe(153);
    expect(c.paired.bothRight + c.paired.onlyFirst).toBe(153 - report.misclassified.length);
    expect(c.paired.bothRight + c.paired.onlySecond).toBe(Math.round(c.models[1]!.accuracy * 153));
    expect(c.paired.bothRight + c.paired.onlyFirst + c.paired.onlySecond + c.paired.bothWrong).toBe(153);
    expect(c.paired.pValue).toBeGreaterThan(0);
    expect(c.paired.pValue).toBeLessThanOrEqual(1);
    // The images behind the counts: each right by exactly one of the two, the first's wrong ones among its mistakes.
    expect(c.disagreements).toHaveLength(c.paired.onlyFirst + c.paired.onlySecond);
    for (const d of c.disagreements) expect((d.predicted[0] === d.label) !== (d.predicted[1] === d.label)).toBe(true);
    const firstWrong = new Set(report.misclassified.map((m) => m.file));
    expect(c.disagreements.filter((d) => d.predicted[0] !== d.label).every((d) => firstWrong.has(d.file))).toBe(true);
    const comparedText = await runCli(['eval', moved, join(hymenoptera, 'val'), '--compare', moved], isolated);
    expect(comparedText.code, comparedText.stderr).toBe(0);
    // The same model twice: the two folders' names are alike, so each is named by its path; nothing tells them apart.
    expect(comparedText.stdout).toContain(`${moved}  ${report.accuracy.toFixed(4)}`);
    expect(comparedText.stdout.trim().split('\n').at(-1)).toBe('They are right and wrong on the same images: nothing tells them apart here.');
    expect(comparedText.stdout).not.toContain('Right only by');
    expect(comparedText.stderr).toContain(`scoring model 2 of 2: ${moved}`);
    expect((await runCli(['eval', moved, join(hymenoptera, 'val'), '--compare', moved, '--csv'], isolated)).code).toBe(2);
    // A second model that is not there fails before the first is scored (minutes, on a large set).
    const noSecond = await runCli(['eval', moved, join(hymenoptera, 'val'), '--compare', join(root, 'no-such-model')], isolated);
    expect(noSecond.code).toBe(3);
    expect(noSecond.stderr).toContain(`${join(root, 'no-such-model')} is not a Graft model directory`);
    expect(noSecond.stderr).not.toContain('scoring model');
    const bee = join(hymenoptera, 'val/bees/10870992_eebeeb3a12.jpg');
    const pr = await runCli(['predict', moved, bee, '--top', '2', '--json'], isolated);
    expect(pr.code, pr.stderr).toBe(0);
    const predictions = parseJsonOutput<PredictJson>(pr);
    expect(predictions).toHaveLength(1);
    expect(predictions[0]!.file).toBe(bee);
    expect(predictions[0]!.predictions.map((p) => p.label)).toContain('bees');
    const sum = predictions[0]!.predictions.reduce((a, p) => a + p.probability, 0);
    expect(sum).toBeCloseTo(1, 4);
    // One image is done in a moment: no progress lines a script did not ask for.
    expect(pr.stderr).toBe('');
    // A folder stands for every image in it, sub-folders included, in file order.
    const folder = await runCli(['predict', moved, join(hymenoptera, 'val'), '--top', '1', '--json'], isolated);
    expect(folder.code, folder.stderr).toBe(0);
    const all = parseJsonOutput<PredictJson>(folder);
    expect(all).toHaveLength(153);
    expect(all.map((p) => p.file)).toEqual([...all.map((p) => p.file)].sort());
    // A folder takes a while: its progress goes to stderr (lines when piped, a bar on a terminal), as eval's does.
    expect(folder.stderr).toMatch(/^features: 153 images\n/m);
    expect(folder.stderr).toContain('features 153/153');
    // As CSV: the same rows, and, written where predict ran, a manifest that inspect (and train) read.
    const csv = await runCli(['predict', moved, join(hymenoptera, 'val'), '--top', '2', '--csv'], isolated);
    expect(csv.code, csv.stderr).toBe(0);
    const csvRows = parseCsv(csv.stdout).map((r) => r.fields);
    expect(csvRows[0]).toEqual(['path', 'label', 'probability', 'label_2', 'probability_2', 'error']);
    expect(csvRows.slice(1).map((r) => [r[0], r[1]])).toEqual(all.map((p) => [p.file, p.predictions[0]!.label]));
    const predicted = join(root, 'predictions.csv');
    await writeFile(predicted, csv.stdout);
    const inspected = parseJsonOutput<{ parts: { imageCount: number; labels: string[] }[] }>(await runCli(['inspect', predicted, '--no-decode', '--json'], isolated));
    expect(inspected.parts[0]).toMatchObject({ imageCount: 153, labels: ['ants', 'bees'] });
    const both = await runCli(['predict', moved, bee, '--csv', '--json'], isolated);
    expect(both.code).toBe(2);
    expect(parseJsonOutput<{ error: { code: string; message: string } }>(both).error).toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringContaining('--json and --csv') });
    // A folder's images are named as the folder was typed, as files are: one image, one name.
    const typed = relative(process.cwd(), join(hymenoptera, 'val/bees'));
    const mixed = parseJsonOutput<PredictJson>(await runCli(['predict', moved, join(typed, basename(bee)), typed, '--top', '1', '--json'], isolated));
    expect(mixed[0]!.file).toBe(join(typed, basename(bee)));
    expect(mixed.filter((p) => p.file === mixed[0]!.file)).toHaveLength(2);
    expect(existsSync(join(root, 'empty-cache', 'features-v1.sqlite'))).toBe(false);

    // Some of the model's classes, even one, are a test set too (a new batch of one kind); an empty class folder is
    // passed over, and a manifest may list one class.
    const oneClass = join(root, 'only-bees');
    await mkdir(join(oneClass, 'ants'), { recursive: true });
    await cp(join(hymenoptera, 'val/bees'), join(oneClass, 'bees'), { recursive: true });
    const bees = parseJsonOutput<EvalJson>(await runCli(['eval', moved, oneClass, '--json'], isolated));
    expect(bees.perClass.bees!.support).toBe(report.perClass.bees!.support);
    expect(bees.perClass.bees!.recall).toBe(report.perClass.bees!.recall);
    // A split set without its train/ (test/ and val/ only) is scored on its test/, as one with train/ is.
    const heldOutOnly = join(root, 'held-out-only');
    await mkdir(heldOutOnly);
    await symlink(oneClass, join(heldOutOnly, 'test'));
    await symlink(join(hymenoptera, 'val'), join(heldOutOnly, 'val'));
    const split = await runCli(['eval', moved, heldOutOnly, '--json'], isolated);
    expect(split.code, split.stderr).toBe(0);
    expect(parseJsonOutput<EvalJson>(split).perClass.bees).toEqual(bees.perClass.bees);
    // A second test folder differing only in case (Test/ beside test/) is refused, not left out unread.
    await symlink(join(hymenoptera, 'val'), join(heldOutOnly, 'Test'));
    const twins = await runCli(['eval', moved, heldOutOnly], isolated);
    expect(twins.code, twins.stderr).toBe(2);
    expect(twins.stderr).toMatch(/holds test\/ and Test\/, folders whose names differ only in case/);
    const manifest = join(root, 'one-bee.csv');
    await writeFile(manifest, `path,label\n${bee},bees\n`);
    const one = await runCli(['eval', moved, manifest, '--json'], isolated);
    expect(one.code, one.stderr).toBe(0);
    expect(parseJsonOutput<EvalJson>(one).confusion.matrix.flat().reduce((a, b) => a + b, 0)).toBe(1);
    const empty = join(root, 'no-images');
    await mkdir(join(empty, 'ants'), { recursive: true });
    const none = await runCli(['eval', moved, empty, '--json'], isolated);
    expect(none.code).toBe(2);
    expect(parseJsonOutput<{ error: { message: string } }>(none).error.message).toContain('No images found');
  });

  it('--label-pattern reads the classes from file names (fastai-style loose images) in train, eval and report', async () => {
    const { readdirSync } = await import('node:fs');
    /** A flat folder of links named <Class>_<n>.jpg to the images of `from`'s class folders. */
    const flat = async (from: string, to: string, perClass: number): Promise<string> => {
      await mkdir(to, { recursive: true });
      for (const label of ['ants', 'bees']) {
        const files = readdirSync(join(from, label)).filter((f) => f.endsWith('.jpg')).sort().slice(0, perClass);
        for (const [i, f] of files.entries()) await symlink(join(from, label, f), join(to, `${label === 'ants' ? 'Ant' : 'Bee'}_${i + 1}.jpg`));
      }
      await writeFile(join(to, 'index.jpg.txt'), 'not an image');
      return to;
    };
    const named = await flat(join(hymenoptera, 'train'), join(root, 'named'), 12);
    const test = await flat(join(hymenoptera, 'val'), join(root, 'named-test'), 6);
    const pattern = '^(.+)_\\d+\\.jpg$';
    // The validation folder is read by the same pattern.
    const trained = await runCli(['train', named, '--label-pattern', pattern, '--val', test, '--backbone', int8Model, '--out', join(root, 'named-model'), '--json'], env);
    expect(trained.code, trained.stderr).toBe(0);
    const result = parseJsonOutput<TrainJson>(trained);
    expect(result.labels).toEqual(['Ant', 'Bee']);
    expect(result.images).toMatchObject({ train: 24, val: 12 });
    const manifest = JSON.parse(await readFile(join(root, 'named-model', 'graft.json'), 'utf8')) as { training: { outcome: { data: { labelPattern?: string } } } };
    expect(manifest.training.outcome.data.labelPattern).toBe(pattern);
    const ev = parseJsonOutput<EvalJson>(await runCli(['eval', join(root, 'named-model'), test, '--label-pattern', pattern, '--json'], env));
    expect(ev.confusion.labels).toEqual(['Ant', 'Bee']);
    expect(ev.confusion.matrix.flat().reduce((a, b) => a + b, 0)).toBe(12);
    expect(ev.accuracy).toBeGreaterThanOrEqual(0.75);
    // Without the flag the loose images are no dataset, and the error says which flag reads them.
    const plain = await runCli(['eval', join(root, 'named-model'), test, '--json'], env);
    expect(plain.code).toBe(2);
    expect(plain.stdout).toContain('--label-pattern');
    // ...and which pattern this model was trained with (graft.json records it).
    expect(parseJsonOutput<{ error: { hint: string } }>(plain).error.hint).toBe(`this model was trained with labelPattern: '${pattern}' (--label-pattern ${JSON.stringify(pattern)}): pass it again to score file names`);
    // The report scores the recorded validation folder by the recorded pattern.
    const report = parseJsonOutput<{ dataset: string | null; accuracy: number | null }>(await runCli(['report', join(root, 'named-model'), '--out', join(root, 'named.html'), '--json'], env));
    expect(report.dataset).toBe(test);
    expect(report.accuracy).toBe(ev.accuracy);
  });

  it('a manifest with a split column trains on its train rows, validates on valid, and leaves test to eval and the next: line', async () => {
    const { readdirSync } = await import('node:fs');
    const rows = ['image,class,split'];
    for (const label of ['ants', 'bees']) {
      const trainFiles = readdirSync(join(hymenoptera, 'train', label)).filter((f) => f.endsWith('.jpg')).sort().slice(0, 12);
      const heldOut = readdirSync(join(hymenoptera, 'val', label)).filter((f) => f.endsWith('.jpg')).sort().slice(0, 12);
      rows.push(...trainFiles.map((f) => `${join(hymenoptera, 'train', label, f)},${label},train`));
      rows.push(...heldOut.slice(0, 4).map((f) => `${join(hymenoptera, 'val', label, f)},${label},valid`));
      rows.push(...heldOut.slice(4).map((f) => `${join(hymenoptera, 'val', label, f)},${label},test`));
    }
    const table = join(root, 'split.csv');
    await writeFile(table, `${rows.join('\n')}\n`);
    const out = join(root, 'split-model');
    const trained = parseJsonOutput<TrainJson>(await runCli(['train', table, '--backbone', int8Model, '--out', out, '--json'], env));
    expect(trained.images).toMatchObject({ train: 24, val: 8 });
    expect(trained.data).toMatchObject({ train: table, val: table, valPart: 'val' });
    // The summary says which rows validated and offers the test rows to graft eval.
    const text = await runCli(['train', table, '--backbone', int8Model, '--out', join(root, 'split-model-2')], env);
    expect(text.stdout).toContain(`8 images: the val rows of ${table}`);
    expect(text.stdout).toContain(`next: graft eval ${join(root, 'split-model-2')} ${table}`);
    const ev = parseJsonOutput<EvalJson & { part?: string }>(await runCli(['eval', out, table, '--json'], env));
    expect(ev.part).toBe('test');
    expect(ev.confusion.matrix.flat().reduce((a, b) => a + b, 0)).toBe(16);
    // The report scores the rows training validated on, not the test rows.
    const report = parseJsonOutput<{ dataset: string | null; accuracy: number | null }>(await runCli(['report', out, '--out', join(root, 'split.html'), '--json'], env));
    expect(report.dataset).toBe(`${table} (its val rows)`);
    expect(report.accuracy).toBeCloseTo(trained.val!.accuracy, 10);
  });

  it('the exported ONNX model scores exactly what training reported on the validation folder', async () => {
    const val = await copySubset(join(hymenoptera, 'val'), join(root, 'val-small'), 12);
    const trained = parseJsonOutput<TrainJson & { report: string }>(await runCli(['train', data, '--val', val, '--backbone', int8Model, '--out', join(root, 'model-val'), '--report', '--json'], env));
    // --report writes the HTML report beside the model, scored on the validation folder.
    expect(trained.report).toBe(join(root, 'model-val', 'report.html'));
    expect(await readFile(trained.report, 'utf8')).toMatch(/<svg/);
    const evaluated = parseJsonOutput<EvalJson>(await runCli(['eval', join(root, 'model-val'), val, '--json'], env));
    expect(trained.images.val).toBe(24);
    expect(evaluated.accuracy).toBeCloseTo(trained.val!.accuracy, 10);
  });

  it('the same seed gives the same weights; another seed does not', async () => {
    const args = (out: string, seed: string): string[] => ['train', data, '--val-split', '0.25', '--backbone', int8Model, '--hidden', '32', '--epochs', '6', '--seed', seed, '--out', join(root, out), '--json'];
    for (const [out, seed] of [['s1a', '1'], ['s1b', '1'], ['s2', '2']] as const) expect((await runCli(args(out, seed), env)).code).toBe(0);
    const [a, b, c] = await Promise.all(['s1a', 's1b', 's2'].map((d) => readFile(join(root, d, 'head.bin'))));
    expect(a!.equals(b!)).toBe(true);
    expect(a!.equals(c!)).toBe(false);
    // --config replays a model's recorded training config: same data + same config = same weights.
    // The --val-split fraction comes with it: the same images held out, the same weights.
    const replay = await runCli(['train', data, '--backbone', int8Model, '--config', join(root, 's1a', 'graft.json'), '--out', join(root, 's1c'), '--json'], env);
    expect(replay.code, replay.stderr).toBe(0);
    expect(parseJsonOutput<{ images: { val: number } }>(replay).images.val).toBeGreaterThan(0);
    expect((await readFile(join(root, 's1c', 'head.bin'))).equals(a!)).toBe(true);
  });

  it('--config with a graft.json and no --backbone replays the backbone and its preprocessing, not the default', async () => {
    const args = ['--val-split', '0.25', '--hidden', '32', '--epochs', '3', '--seed', '1', '--json'];
    expect((await runCli(['train', data, '--backbone', int8Model, '--crop-fraction', '1', ...args, '--out', join(root, 'crop1')], env)).code).toBe(0);
    const replay = await runCli(['train', data, '--config', join(root, 'crop1', 'graft.json'), '--out', join(root, 'crop1-replayed'), '--json'], env);
    expect(replay.code, replay.stderr).toBe(0);
    const [original, replayed] = await Promise.all(['crop1', 'crop1-replayed'].map(async (d) => JSON.parse(await readFile(join(root, d, 'graft.json'), 'utf8')) as { backbone: { source: string }; preprocessing: unknown }));
    expect(replayed!.backbone.source).toBe(int8Model);
    expect(replayed!.preprocessing).toEqual(original!.preprocessing);
    const [a, b] = await Promise.all(['crop1', 'crop1-replayed'].map((d) => readFile(join(root, d, 'head.bin'))));
    expect(b!.equals(a!)).toBe(true);
  });

  it('a model written before the config/outcome split (graft.json version 1) still predicts, replays and reports', async () => {
    // s1a as the previous Graft wrote it: one flat `training` section mixing the config with the outcome.
    const old = join(root, 's1-v1');
    await cp(join(root, 's1a'), old, { recursive: true });
    const v2 = JSON.parse(await readFile(join(old, 'graft.json'), 'utf8')) as { version: number; training: { config: Record<string, unknown>; outcome: Record<string, unknown> } };
    const { config, outcome } = v2.training;
    expect(v2.version).toBe(2);
    expect(config).toMatchObject({ version: 2, seed: 1, epochs: 6, head: { hidden: [32] } });
    expect(outcome).toMatchObject({ data: { train: data, valSplit: 0.25 } });
    expect(outcome).toHaveProperty('images.train');
    expect(outcome).not.toHaveProperty('seed');
    await writeFile(join(old, 'graft.json'), JSON.stringify({ ...v2, version: 1, training: { ...config, ...outcome } }, null, 2));
    const bee = join(hymenoptera, 'val/bees/10870992_eebeeb3a12.jpg');
    const [now, before] = await Promise.all([join(root, 's1a'), old].map((dir) => runCli(['predict', dir, bee, '--json'], env)));
    expect(before!.code, before!.stderr).toBe(0);
    expect(parseJsonOutput<PredictJson>(before!)[0]!.predictions).toEqual(parseJsonOutput<PredictJson>(now!)[0]!.predictions);
    const replay = await runCli(['train', data, '--val-split', '0.25', '--backbone', int8Model, '--config', join(old, 'graft.json'), '--out', join(root, 's1d'), '--json'], env);
    expect(replay.code, replay.stderr).toBe(0);
    expect((await readFile(join(root, 's1d', 'head.bin'))).equals(await readFile(join(root, 's1a', 'head.bin')))).toBe(true);
    const report = await runCli(['report', old, '--out', join(root, 's1-v1.html'), '--json'], env);
    expect(report.code, report.stderr).toBe(0);
    expect(await readFile(join(root, 's1-v1.html'), 'utf8')).toContain('Training images');
  });

  it('--crops auto cross-validates corner-crop rows beside the chosen head, and --crops on needs two scales', async () => {
    const run = await runCli(['train', data, '--backbone', int8Model, '--crops', 'auto', '--out', join(root, 'm-crops'), '--json'], env);
    expect(run.code, run.stderr).toBe(0);
    const r = parseJsonOutput<TrainJson & { selection: { cropRows?: { baseline: { c: number; trainViews: string; logLoss: number } } } }>(run);
    // Only the corner crops were new to the cache: the other views were extracted by the first test.
    expect(r.features.computed).toBeGreaterThan(0);
    const crops = r.selection!.table.filter((t) => t.trainViews.endsWith('+crops'));
    expect(crops.length).toBe(2);
    const baseline = r.selection!.cropRows!.baseline;
    expect(baseline.trainViews.endsWith('+crops')).toBe(false);
    // Chosen: the best crop candidate where it beat the head without crops scored alike, else that head.
    const bestCrop = Math.min(...crops.map((t) => t.logLoss));
    expect(r.head.trainViews!.endsWith('+crops')).toBe(bestCrop < baseline.logLoss);
    const again = await runCli(['train', data, '--backbone', int8Model, '--crops', 'auto', '--out', join(root, 'm-crops'), '--json'], env);
    expect(parseJsonOutput<TrainJson>(again).features.computed).toBe(0);
    const oneScale = await runCli(['train', data, '--backbone', int8Model, '--no-multi-scale', '--crops', 'on', '--out', join(root, 'm-crops-one'), '--json'], env);
    expect(oneScale.code).toBe(2);
    expect(parseJsonOutput<{ error: { code: string; message: string; hint: string } }>(oneScale).error).toEqual(
      expect.objectContaining({ code: 'INVALID_CONFIG', message: expect.stringContaining('one scale'), hint: expect.stringContaining('--crops on') }),
    );
    // With auto, the same run goes on without them, and says so.
    const autoOneScale = await runCli(['train', data, '--backbone', int8Model, '--no-multi-scale', '--crops', 'auto', '--out', join(root, 'm-crops-auto-one'), '--json'], env);
    expect(autoOneScale.code, autoOneScale.stderr).toBe(0);
    expect(autoOneScale.stderr).toMatch(/CROP_ROWS_SKIPPED|\(--crops auto\) skipped/);
    expect(parseJsonOutput<TrainJson>(autoOneScale).head.trainViews!.endsWith('+crops')).toBe(false);
    expect(existsSync(join(root, 'm-crops-one'))).toBe(false);
  });

  it('fails clearly, with exit code 2 and nothing written, on a missing folder, one class, and an unknown backbone without --scale', async () => {
    const missing = await runCli(['train', join(root, 'nope'), '--backbone', int8Model, '--out', join(root, 'm-missing')], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(join(root, 'nope'));
    const one = join(root, 'one-class');
    await copySubset(join(hymenoptera, 'train'), one, 3);
    await rm(join(one, 'bees'), { recursive: true });
    const single = await runCli(['train', one, '--backbone', int8Model, '--out', join(root, 'm-one'), '--json'], env);
    expect(single.code).toBe(2);
    expect(parseJsonOutput<{ error: { code: string; message: string } }>(single).error.message).toMatch(/two|2/);
    const unknown = await runCli(['embed', data, '--backbone', int8FeatModel, '--json'], env);
    expect(unknown.code).toBe(2);
    const err = parseJsonOutput<{ error: { code: string; hint: string } }>(unknown).error;
    expect(err.code).toBe('UNKNOWN_PREPROCESSING');
    expect(err.hint).toContain('--scale');
    for (const out of ['m-missing', 'm-one']) expect(existsSync(join(root, out))).toBe(false);
  });

  it('refuses what a user would regret, and tells scripts what went wrong in JSON', async () => {
    // --out over the data, or over a folder of other things: refused before any work, nothing deleted.
    const overData = await runCli(['train', data, '--backbone', int8Model, '--out', data, '--json'], env);
    expect(overData.code).toBe(2);
    expect(parseJsonOutput<{ error: { code: string; message: string } }>(overData).error.message).toMatch(/which this run reads/);
    expect(existsSync(join(data, 'ants'))).toBe(true);
    const project = join(root, 'project');
    await mkdir(project);
    await writeFile(join(project, 'notes.txt'), 'keep');
    const overProject = await runCli(['train', data, '--backbone', int8Model, '--out', project], env);
    expect(overProject.code).toBe(2);
    expect(overProject.stderr).toMatch(/not a Graft model directory/);
    expect(await readFile(join(project, 'notes.txt'), 'utf8')).toBe('keep');
    // A cache folder that is a file: a usage error naming it (it was a cache error, exit 4, "EEXIST … mkdir").
    const cacheFile = join(root, 'cache-file');
    await writeFile(cacheFile, 'x');
    for (const [args, extraEnv, named] of [[['--cache-dir', cacheFile], {}, '--cache-dir'], [[], { GRAFT_CACHE_DIR: cacheFile }, 'GRAFT_CACHE_DIR']] as const) {
      const run = await runCli(['train', data, '--backbone', int8Model, '--out', join(root, 'x'), ...args, '--json'], { ...env, ...extraEnv });
      expect(run.code).toBe(2);
      expect(parseJsonOutput<{ error: { message: string } }>(run).error.message).toBe(`${named} ${cacheFile} is a file; the cache is a folder`);
    }

    // A flag of another mode: the MLP head's with the linear head is said (and the run goes on as it would); --unfreeze
    // last:0 is refused before the head is trained, not after; --engine on an export with no page is refused.
    const mlpFlags = await runCli(['train', data, '--backbone', int8Model, '--out', join(root, 'linear-epochs'), '--epochs', '5', '--dropout', '0.2'], env);
    expect(mlpFlags.code, mlpFlags.stderr).toBe(0);
    expect(mlpFlags.stderr).toContain('--epochs, --dropout shape the MLP head (--hidden <units>); the linear head, the default, has no epochs or dropout and ignores them');
    expect(mlpFlags.stdout).not.toContain('not checked');
    // The MLP has no cross-validation: its empty list of labels to check is said to be unchecked, not clean.
    const mlp = await runCli(['train', data, '--backbone', int8Model, '--out', join(root, 'mlp-text'), '--hidden', '16', '--epochs', '2'], env);
    expect(mlp.code, mlp.stderr).toBe(0);
    expect(mlp.stdout).toContain('labels     not checked: no cross-validation ran for this head');
    const started = Date.now();
    const lastZero = await runCli(['train', data, '--backbone', int8Model, '--out', join(root, 'last-zero'), '--fine-tune', '--unfreeze', 'last:0', '--json'], env);
    expect(lastZero.code).toBe(2);
    expect(parseJsonOutput<{ error: { message: string } }>(lastZero).error.message).toBe('fineTune.unfreeze (--unfreeze) last:<N> needs a whole number of blocks >= 1. Received: "last:0"');
    expect(parseJsonOutput<{ error: { message: string } }>(lastZero)).not.toHaveProperty('model');
    expect(Date.now() - started).toBeLessThan(10_000);
    const engine = await runCli(['export', join(root, 'model'), '--to', 'tfjs', '--engine', 'tfjs', '--out', join(root, 'engine-tfjs'), '--json'], env);
    expect(engine.code).toBe(2);
    expect(parseJsonOutput<{ error: { message: string } }>(engine).error.message).toBe("--engine chooses what runs a web export's page; --to tfjs writes a model without one");

    // A usage error that commander catches is still one JSON value on stdout.
    const usage = await runCli(['train', data, '--out', join(root, 'x'), '--bogus', '--json'], env);
    expect(usage.code).toBe(2);
    expect(parseJsonOutput<{ error: { code: string; message: string } }>(usage).error).toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringMatching(/unknown option '--bogus'/) });
    // A value the flag's parser refuses names the flag.
    for (const [args, flag] of [[['train', data, '--out', join(root, 'x'), '--val-split', 'abc'], '--val-split <fraction>'], [['embed', data, '--concurrency', '0'], '--concurrency <n>']] as const) {
      const bad = await runCli([...args, '--json'], env);
      expect(bad.code).toBe(2);
      expect(parseJsonOutput<{ error: { message: string } }>(bad).error.message).toMatch(new RegExp(`^option '${flag}' argument '(abc|0)' is invalid\\. Expected`));
    }

    // --config takes graft.json's "training" section as --help says, and refuses a key nothing reads.
    const manifest = JSON.parse(await readFile(join(root, 'model', 'graft.json'), 'utf8')) as { training: { config: Record<string, unknown> }; versions: Record<string, string> };
    expect(manifest.versions.sharp).toMatch(/^\d+\.\d+\.\d+/);
    const section = join(root, 'section.json');
    await writeFile(section, JSON.stringify({ ...manifest.training, config: { ...manifest.training.config, head: { hidden: [16], dropout: 0.1 }, epochs: 2 } }));
    const replay = await runCli(['train', data, '--backbone', int8Model, '--config', section, '--out', join(root, 'from-section'), '--json'], env);
    expect(replay.code, replay.stderr).toBe(0);
    expect(parseJsonOutput<TrainJson>(replay).head.kind).toBe('mlp');
    await writeFile(section, JSON.stringify({ hiden: [16] }));
    const typo = await runCli(['train', data, '--backbone', int8Model, '--config', section, '--out', join(root, 'typo'), '--json'], env);
    expect(typo.code).toBe(2);
    expect(parseJsonOutput<{ error: { message: string } }>(typo).error.message).toMatch(/does not know: hiden/);

    // predict: one row per image in the order given, an unreadable one with its reason; none readable is an error.
    const bee = join(hymenoptera, 'val/bees/10870992_eebeeb3a12.jpg');
    const missing = join(root, 'missing.jpg');
    const rows = parseJsonOutput<{ file: string; predictions: unknown[]; error?: string }[]>(await runCli(['predict', join(root, 'model'), missing, bee, '--json'], env));
    expect(rows.map((r) => [r.file, r.predictions.length > 0, r.error])).toEqual([[missing, false, 'file not found'], [bee, true, undefined]]);
    const none = await runCli(['predict', join(root, 'model'), missing, '--json'], env);
    expect(none.code).toBe(2);
    expect(parseJsonOutput<{ error: { code: string } }>(none).error.code).toBe('UNREADABLE_IMAGE');
    expect((await runCli(['predict', join(root, 'model'), bee, '--top', '0'], env)).code).toBe(2);
    // URLs (a loopback server) and standard input, in the order given, next to a file; a 404, text and an image too
    // large are rows with their reasons, as unreadable files are.
    const beeBytes = await readFile(bee);
    const images = createServer((request, response) => {
      if (request.url === '/bee.jpg') return void response.end(beeBytes);
      if (request.url === '/big.jpg') return void response.end(Buffer.alloc(51 * 1024 * 1024));
      if (request.url === '/page.html') return void response.end('<html>not an image</html>');
      response.statusCode = 404;
      response.end();
    });
    await new Promise<void>((resolve) => images.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(images.address() as AddressInfo).port}`;
    try {
      const urls = [`${base}/bee.jpg`, `${base}/gone.jpg`, `${base}/page.html`, `${base}/big.jpg`];
      const remote = await runCli(['predict', join(root, 'model'), urls[0]!, missing, '-', ...urls.slice(1), '--top', '1', '--json'], env, [], beeBytes);
      const fromFile = parseJsonOutput<{ predictions: { label: string; probability: number }[] }[]>(await runCli(['predict', join(root, 'model'), bee, '--top', '1', '--json'], env))[0]!;
      expect(parseJsonOutput<{ file: string; predictions: unknown[]; error?: string }[]>(remote)).toEqual([
        { file: urls[0], predictions: fromFile.predictions },
        { file: missing, predictions: [], error: 'file not found' },
        { file: '-', predictions: fromFile.predictions },
        { file: urls[1], predictions: [], error: 'HTTP 404 Not Found' },
        { file: urls[2], predictions: [], error: expect.stringMatching(/^not an image/) },
        { file: urls[3], predictions: [], error: 'larger than 50 MB' },
      ]);
      expect((await runCli(['predict', join(root, 'model'), '-', '-'], env)).code).toBe(2);

      // Behind a proxy (HTTP_PROXY, as curl and pip read it) a request goes through it: here to a host name only the
      // proxy knows, as on a company network. An http:// URL is sent to the proxy whole, as curl sends it, not through
      // a CONNECT tunnel, which this proxy refuses for port 80 as squid's default configuration does. NO_PROXY hosts
      // and this machine's own addresses do not go through it.
      const proxied: string[] = [];
      const proxy = createServer((request, response) => {
        proxied.push(`${request.method} ${request.url}`);
        const target = new URL(request.url ?? '');
        if (target.host !== 'images.corp.test') return void response.writeHead(502).end();
        httpGet(`${base}${target.pathname}`, (upstream) => {
          response.writeHead(upstream.statusCode ?? 502, upstream.headers);
          upstream.pipe(response);
        }).on('error', () => response.destroy());
      });
      proxy.on('connect', (request: IncomingMessage, client: Socket) => {
        proxied.push(`CONNECT ${request.url}`);
        client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      });
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
      try {
        const viaProxy = { ...env, HTTP_PROXY: `127.0.0.1:${(proxy.address() as AddressInfo).port}` };
        const corpUrl = 'http://images.corp.test/bee.jpg';
        const through = await runCli(['predict', join(root, 'model'), corpUrl, urls[0]!, '--top', '1', '--json'], viaProxy);
        expect(through.stderr).toBe('');
        expect(parseJsonOutput<PredictJson>(through)).toEqual([corpUrl, urls[0]].map((file) => ({ file, predictions: fromFile.predictions })));
        expect(proxied).toEqual(['GET http://images.corp.test/bee.jpg']);
        const direct = await runCli(['predict', join(root, 'model'), corpUrl, '--json'], { ...viaProxy, NO_PROXY: '.corp.test' });
        // Straight to a host no resolver knows: a row with its reason (which depends on this machine's DNS).
        expect(direct.code).toBe(2);
        expect(direct.stdout).toContain('No image could be classified: http://images.corp.test/bee.jpg');
        expect(proxied).toHaveLength(1);
        const wrong = await runCli(['predict', join(root, 'model'), urls[0]!, '--json'], { ...env, HTTP_PROXY: 'socks5://127.0.0.1:1080' });
        expect(wrong.code).toBe(2);
        expect(parseJsonOutput<{ error: { code: string; message: string } }>(wrong).error).toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringContaining('HTTP_PROXY') });
      } finally {
        proxy.close();
      }
    } finally {
      images.close();
    }

    // The web export of this int8 model runs model.onnx itself by default (the server's answers), and never over its model.
    const web = await runCli(['export', join(root, 'model'), '--to', 'web', '--out', join(root, 'model-web'), '--json'], env);
    expect(web.code, web.stderr).toBe(0);
    expect(parseJsonOutput<{ engine: string }>(web).engine).toBe('onnxruntime-web');
    const overModel = await runCli(['export', join(root, 'model'), '--to', 'web', '--out', root, '--overwrite', '--json'], env);
    expect(overModel.code).toBe(2);
    expect(existsSync(join(root, 'model', 'model.onnx'))).toBe(true);

    // report --out naming a folder: a usage error (exit 2) before the report is built, not an internal one.
    const report = await runCli(['report', join(root, 'model'), '--out', root, '--json'], env);
    expect(report.code).toBe(2);
    expect(parseJsonOutput<{ error: { message: string } }>(report).error.message).toMatch(/is a folder/);
    // This model held out a --val-split: the report draws the same images again and scores them as training did.
    const reported = await runCli(['report', join(root, 'model'), '--out', join(root, 'report.html'), '--json'], env);
    expect(reported.code, reported.stderr).toBe(0);
    const summary = parseJsonOutput<{ dataset: string; accuracy: number; misclassified: number }>(reported);
    const recorded = JSON.parse(await readFile(join(root, 'model', 'graft.json'), 'utf8')) as { metrics: { val: { accuracy: number } } };
    expect(summary.dataset).toMatch(/--val-split 0\.25 held out, seed 42/);
    expect(summary.accuracy).toBeCloseTo(recorded.metrics.val.accuracy, 6);
    // Images added since: the split drawn again holds out others, some of them trained on. Said, not scored.
    const added = join(data, 'bees', 'added-since.jpg');
    await cp(bee, added);
    try {
      const changed = await runCli(['report', join(root, 'model'), '--out', join(root, 'report-changed.html'), '--json'], env);
      expect(changed.code, changed.stderr).toBe(0);
      const result = parseJsonOutput<{ dataset: string | null; accuracy: number | null; notScored?: string }>(changed);
      expect(result).toMatchObject({ dataset: null, accuracy: null, notScored: expect.stringMatching(/has changed since training .* cannot be told apart/) });
    } finally {
      await rm(added);
    }
    // The training folder moved away: said, naming it, not "trained without validation images".
    await rename(data, `${data}-moved`);
    try {
      const moved = await runCli(['report', join(root, 'model'), '--out', join(root, 'report-moved.html'), '--json'], env);
      expect(moved.code, moved.stderr).toBe(0);
      expect(parseJsonOutput<{ dataset: string | null; notScored?: string }>(moved)).toMatchObject({ dataset: null, notScored: expect.stringContaining(`The training folder ${data} recorded in graft.json is not there`) });
    } finally {
      await rename(`${data}-moved`, data);
    }

    // A label added to graft.json by hand no longer matches the model's outputs: said, not silently misread.
    const edited = join(root, 'edited');
    await cp(join(root, 'model'), edited, { recursive: true });
    const withExtra = JSON.parse(await readFile(join(edited, 'graft.json'), 'utf8')) as { labels: string[] };
    await writeFile(join(edited, 'graft.json'), JSON.stringify({ ...withExtra, labels: [...withExtra.labels, 'wasps'] }));
    const mismatch = await runCli(['predict', edited, bee, '--json'], env);
    expect(mismatch.code).toBe(3);
    expect(parseJsonOutput<{ error: { code: string; message: string } }>(mismatch).error).toMatchObject({ code: 'INVALID_MODEL_DIR', message: expect.stringMatching(/outputs 2 probabilities .* lists 3 labels/) });

    // model.onnx replaced by another model (the backbone alone): named as out of step with graft.json; the message
    // said "no output probabilities" and offered --feature-output, a flag predict does not take.
    const replaced = join(root, 'replaced');
    await cp(join(root, 'model'), replaced, { recursive: true });
    await cp(int8Model, join(replaced, 'model.onnx'));
    const other = await runCli(['predict', replaced, bee, '--json'], env);
    expect(other.code).toBe(3);
    const otherError = parseJsonOutput<{ error: { code: string; message: string; hint: string } }>(other).error;
    // graft.json holds model.onnx's hash: the replacement is named as such before anything reads it.
    expect(otherError).toMatchObject({ code: 'INVALID_MODEL_DIR', message: expect.stringMatching(/model\.onnx has changed since .*graft\.json was written \(its sha256 is [0-9a-f]{64}, not [0-9a-f]{64}\): it was damaged or replaced$/) });
    expect(otherError.hint).toBe('copy the whole model directory again, or train again');
    // Without the hash (an earlier Graft's directory), the check behind it names what is out of step.
    const hashed = JSON.parse(await readFile(join(replaced, 'graft.json'), 'utf8')) as { files: { onnxSha256?: string } };
    delete hashed.files.onnxSha256;
    await writeFile(join(replaced, 'graft.json'), JSON.stringify(hashed));
    const unhashed = parseJsonOutput<{ error: { code: string; message: string; hint: string } }>(await runCli(['predict', replaced, bee, '--json'], env)).error;
    expect(unhashed).toMatchObject({ code: 'INVALID_MODEL_DIR', message: expect.stringMatching(/model\.onnx does not match .*graft\.json: graft\.json names the output "probabilities"; model\.onnx's outputs are /) });
    expect(unhashed.hint).not.toContain('--feature-output');
  });

  it('Ctrl+C stops training at its next step: a CANCELLED error in JSON saying what was kept, exit 130, nothing written', async () => {
    const { spawn } = await import('node:child_process');
    const out = join(root, 'interrupted');
    const cache = join(root, 'interrupted-cache');
    const child = spawn(process.execPath, [join(repoRoot, 'bin/graft.js'), 'train', join(sharedDir, 'datasets/flowers12/train'), '--backbone', int8Model, '--out', out, '--json'], {
      env: { ...process.env, GRAFT_CACHE_DIR: cache },
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    // Signalled once extraction has begun (its feature store is in the cache), not after a fixed 3 s: a busy machine
    // may still be loading the CLI then. Extracting 720 photos into an empty cache takes far longer than that.
    for (const deadline = Date.now() + 60_000; !existsSync(join(cache, 'features-v1.sqlite')) && child.exitCode === null && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 25));
    child.kill('SIGINT');
    const code = await closed;
    expect(code).toBe(130);
    expect(JSON.parse(stdout)).toEqual({ error: { code: 'CANCELLED', message: expect.stringMatching(new RegExp(`^Training was interrupted: nothing was written to ${out}(; the features of \\d+ images are in the feature cache)?$`)), hint: expect.stringMatching(/^run the same command again/) } });
    expect(existsSync(out)).toBe(false);
  });
});
