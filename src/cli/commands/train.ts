import { cancelOnSignal } from '../until-signal.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../core/atomic-write.js';
import { Option, type Command } from 'commander';
import { GraftError } from '../../core/errors.js';
import { describeHoldout } from '../../core/fine-tune-holdout.js';
import type { UnfreezeText } from '../../core/training-config.js';
import { hasCropRows, hasMirrorRows, LABELS_NOT_CHECKED, labelIssuesCaveat, type TrainViews } from '../../core/selection-report.js';
import { describeHead, type HeadConfig } from '../../learn/head-config.js';
import { train, type TrainOptions, type TrainResult } from '../../recipes/train.js';
import type { TrainConfig } from '../../learn/train-config.js';
import { DEFAULT_FINE_TUNE, type FineTuneConfig } from '../../learn/fine-tune-config.js';
import { definedOnly } from '../../core/defined-only.js';
import { LABEL_PATTERN_HELP, addBackboneOptions, addOldSpelling, backboneOptionsFrom, parseAutoNumber, parseHidden, parseInteger, parseNumber, type BackboneFlags } from '../options.js';
import { printResult, reportFailure, shellWord } from '../output.js';
import { renderProgress } from '../render-progress.js';
import { trainFromFeatures } from '../../recipes/train-from-features.js';
import { isFeatureStore } from '../../features/shard-set.js';
import { upgradeV1 } from '../../model/manifest-v1.js';
import type { Preprocessing } from '../../core/preprocessing.js';
import { replayBackbone, type RecordedBackbone } from '../replay-backbone.js';
import { unusedTestData } from '../../data/find-split-folders.js';
import { validationSource } from '../../learn/prepare-data.js';

interface TrainFlags extends BackboneFlags {
  c?: number | 'auto';
  mirror?: 'on' | 'off' | 'auto';
  tta?: 'on' | 'off' | 'auto';
  crops?: 'on' | 'off' | 'auto';
  folds?: number | 'auto';
  groupBy?: string;
  labelPattern?: string;
  multiScale?: boolean;
  store?: string;
  inMemoryRows?: number;
  selectionRows?: number;
  workDir?: string;
  val?: string;
  valSplit?: number;
  out: string;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  hidden?: number[];
  dropout?: number;
  patience?: number;
  weightDecay?: number;
  labelSmoothing?: number;
  seed?: number;
  config?: string;
  report: boolean;
  fineTune?: boolean;
  /** Checked by fineTuneConfigFrom, as every fine-tuning value is. */
  unfreeze?: UnfreezeText;
  fineTuneEpochs?: number;
  fineTuneLr?: number;
  bodyLrRatio?: number;
  schedule?: FineTuneConfig['schedule'];
  views?: number;
  classWeights?: FineTuneConfig['classWeights'];
  checkpoint?: string;
  resume?: boolean;
  trainBatchnorm?: boolean;
  fineTunePatience?: number;
}

export function registerTrain(program: Command): void {
  const command = program
    .command('train')
    .description('train a classifier on a folder of labelled images (one sub-folder per class, or a CSV path,label)')
    .argument('[train-dir]', 'training images: class sub-folders, a folder with train/ and val/, a manifest (.csv, .jsonl), or a feature store folder')
    .option('--store <store-dir>', 'train from the feature store graft embed --store wrote (no images read; the backbone defaults to theirs)')
    .option('--in-memory-rows <n>', 'with --store: most training rows fitted in memory; more are copied to a local file and the head is fitted streamed, C chosen on a 20k-row sample (default: 256 MiB of rows)', parseInteger)
    .option('--selection-rows <n>', 'with --store, when the head is fitted streamed: rows the cross-validation samples (default 20000)', parseInteger)
    .option('--work-dir <dir>', 'with --store: local folder for that file (rows x dim x 4 bytes; default: the OS temp folder)')
    .option('--val <dir>', "validation folder or CSV, scored only, never used to choose (default: the dataset's val/ folder, else none)")
    .option('--val-split <fraction>', 'hold out this stratified, seeded fraction of the training images to score (default 0)', parseNumber)
    .option('--label-pattern <regex>', LABEL_PATTERN_HELP)
    .requiredOption('--out <model-dir>', 'where to write the model directory')
    .option('--c <C|auto>', 'linear head: inverse L2 strength (sklearn C); auto = chosen by cross-validation (default)', parseAutoNumber)
    .addOption(new Option('--mirror <on|off|auto>', "linear head: also train on each image's mirror image (default auto: cross-validation decides)").choices(['on', 'off', 'auto']))
    .addOption(new Option('--tta <on|off|auto>', 'average each image with its mirror image at prediction, inside model.onnx (default auto: cross-validation decides)').choices(['on', 'off', 'auto']))
    .addOption(new Option('--crops <on|off|auto>', "linear head: also train on each training image's four corner crops, 8 more backbone passes per training image, prediction unchanged (default off; auto: cross-validation decides)").choices(['on', 'off', 'auto']))
    .option('--no-multi-scale', 'one scale instead of two (the backbone\'s evaluation crop and the whole image, concatenated)')
    .option('--folds <k|auto>', 'most cross-validation folds (default auto: 5, or 3 from 2000 images)', parseAutoNumber)
    .option('--group-by <regex>', "images whose file names give the same group (first capture group) stay on one side of every internal split, e.g. '^(\\d+_\\d+)_'")
    .option('--hidden <units>', 'an MLP head with these hidden Dense(relu) sizes, e.g. 1024 or 512,256; 0 = the linear head (default)', parseHidden)
    .option('--epochs <n>', 'MLP head: maximum epochs (default 60; early stopping on held-out training images ends sooner)', parseInteger)
    .option('--batch-size <n>', 'MLP head and fine-tuning: batch size (default 32; 8 with --unfreeze all)', parseInteger)
    .option('--lr <rate>', 'MLP head: Adam learning rate (default 0.001)', parseNumber)
    .option('--dropout <rate>', 'MLP head: dropout rate (default 0.5)', parseNumber)
    .option('--patience <epochs>', 'MLP head: early-stopping patience (default 8)', parseInteger)
    .option('--weight-decay <l2>', 'MLP head: L2 penalty on weights (default 0.0001)', parseNumber)
    .option('--label-smoothing <eps>', 'MLP head and fine-tuning: label smoothing (default 0)', parseNumber)
    .option('--seed <n>', 'seed for the folds, splits, initial weights, dropout and batch order (default 42)', parseInteger)
    .option('--config <file>', "training config JSON (a graft.json, its \"training\" section, or options) to replay, with the run's --val-split (and a graft.json's backbone and preprocessing, unless --backbone names another); flags win")
    .option('--report', 'also write <model-dir>/report.html (curves, confusion heat map, mistakes as thumbnails)', false)
    .option('--fine-tune', 'after training the head, unfreeze the top of the backbone and train on at lower rates; kept only when it clearly beats the head on held-out training images (else the model is the head)')
    .option('--unfreeze <what>', 'what --fine-tune trains: last:<N blocks>, from:<tensor or node>, or all (default last:3)')
    .option('--fine-tune-epochs <n>', 'fine-tuning epochs (default 6)', parseInteger)
    .option('--fine-tune-lr <rate>', 'peak learning rate of the head while fine-tuning (default 0.001)', parseNumber)
    .option('--body-lr-ratio <r>', 'unfrozen backbone layers train at lr x r (default 0.1)', parseNumber)
    .option('--schedule <kind>', 'fine-tuning schedule: one-cycle, cosine or constant (default one-cycle)')
    .option('--views <k>', 'augmented views per training image, computed once and cached (default 2; 0 = none)', parseInteger)
    .option('--class-weights <mode>', "'balanced' (default) weighs rare classes up, in the head (linear or MLP) and while fine-tuning; 'none' weighs every image alike")
    .option('--train-batchnorm', 'fine-tune BatchNorm in training mode (batch statistics; running ones updated) instead of frozen')
    .option('--fine-tune-patience <epochs>', 'stop fine-tuning after this many epochs without a lower loss on the held-out training images (default 0: run the whole schedule)', parseInteger)
    .option('--checkpoint <file>', 'fine-tuning checkpoint written after every epoch (default <model-dir>.checkpoint)')
    .option('--resume', 'continue an interrupted --fine-tune run from its checkpoint');
  addOldSpelling(command, '--features <store-dir>', '--store');
  addBackboneOptions(command).action(async (dir: string | undefined, flags: TrainFlags, cmd: Command) => {
    const progress = renderProgress({ quiet: flags.json && !process.stderr.isTTY });
    let cancel: ReturnType<typeof cancelOnSignal> | undefined;
    try {
      const { config: fromFile, fineTune: fineFromFile, valSplit: valSplitFromFile, backbone: recorded } = flags.config ? readConfig(flags.config) : { config: {}, fineTune: undefined, valSplit: undefined, backbone: undefined };
      const fineTuning = flags.fineTune || flags.resume || fineFromFile !== undefined || flags.unfreeze !== undefined;
      // Flags win over the replayed config; a flag left out keeps the file's value (or the default).
      const config = {
        ...fromFile,
        ...definedOnly({
          epochs: flags.epochs,
          batchSize: flags.batchSize,
          learningRate: flags.lr,
          patience: flags.patience,
          weightDecay: flags.weightDecay,
          labelSmoothing: flags.labelSmoothing,
          seed: flags.seed,
          c: flags.c,
          mirror: flags.mirror,
          tta: flags.tta,
          crops: flags.crops,
          folds: flags.folds,
          groupBy: flags.groupBy,
          classWeights: flags.classWeights as TrainConfig['classWeights'] | undefined,
          // commander sets multiScale to true unless --no-multi-scale is given.
          multiScale: flags.multiScale === false ? false : undefined,
        }),
        head: { ...fromFile.head, ...(flags.hidden ? { hidden: flags.hidden } : {}), ...(flags.dropout !== undefined ? { dropout: flags.dropout } : {}) },
      };
      // The MLP head's own settings with the linear head: said, not silently dropped (the run is what it would be).
      const mlpOnly = ['epochs', 'lr', 'dropout', 'patience', 'weightDecay'].filter((name) => cmd.getOptionValueSource(name) === 'cli');
      if (mlpOnly.length > 0 && (config.head.hidden ?? []).length === 0) {
        const named = mlpOnly.map((name) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ');
        progress({ type: 'warning', code: 'FLAG_IGNORED', message: `${named} shape${mlpOnly.length === 1 ? 's' : ''} the MLP head (--hidden <units>); the linear head, the default, has no epochs or dropout and ignores ${mlpOnly.length === 1 ? 'it' : 'them'}` });
      }
      const store = featureStoreFrom(dir, flags.store);
      if (store && (fineTuning || flags.val !== undefined || flags.labelPattern !== undefined)) refuseWithStore(fineTuning ? '--fine-tune' : flags.val !== undefined ? '--val' : '--label-pattern');
      const storeOnly = flags.inMemoryRows !== undefined ? '--in-memory-rows' : flags.selectionRows !== undefined ? '--selection-rows' : flags.workDir !== undefined ? '--work-dir' : undefined;
      if (!store && storeOnly) {
        throw new GraftError('INVALID_CONFIG', `${storeOnly} applies only to training from a feature store (--store).`, { hint: 'drop it, or train from the store graft embed --store wrote' });
      }
      cancel = cancelOnSignal();
      // A replayed run holds out the same seeded fraction, unless told otherwise (--val or --val-split); said, since
      // it sets aside a val/ folder (or a manifest's val rows) of the data, as the replayed run did.
      const valSplit = flags.valSplit ?? (flags.val === undefined ? valSplitFromFile : undefined);
      if (valSplit !== undefined && flags.valSplit === undefined) progress({ type: 'info', message: `--val-split ${valSplit} replayed from ${flags.config}: those training images are held out and scored (pass --val <dir> to score another set instead)` });
      const result = store
        ? await trainFromFeatures({
            signal: cancel.signal,
            ...backboneOptionsFrom(flags, progress),
            // Without --backbone, the model the shards were made with (recorded in them).
            backbone: cmd.getOptionValueSource('backbone') === 'default' ? undefined : flags.backbone,
            features: store,
            valSplit,
            out: flags.out,
            config,
            inMemoryRows: flags.inMemoryRows,
            selectionRows: flags.selectionRows,
            workDir: flags.workDir,
          })
        : await train({
        ...backboneOptionsFrom(replayBackbone(flags, cmd.getOptionValueSource('backbone') !== 'default', recorded, flags.config ?? '', progress), progress),
        signal: cancel.signal,
        train: requireData(dir),
        ...validationSource(flags.val, valSplit),
        labelPattern: flags.labelPattern,
        out: flags.out,
        config,
        ...(fineTuning
          ? {
              fineTune: {
                ...fineFromFile,
                ...definedOnly({
                  unfreeze: flags.unfreeze,
                  epochs: flags.fineTuneEpochs,
                  learningRate: flags.fineTuneLr,
                  bodyLrRatio: flags.bodyLrRatio,
                  schedule: flags.schedule,
                  views: flags.views,
                  classWeights: flags.classWeights,
                  batchNorm: flags.trainBatchnorm ? ('train' as const) : undefined,
                  patience: flags.fineTunePatience,
                  labelSmoothing: flags.labelSmoothing,
                  batchSize: flags.batchSize,
                }),
              },
            }
          : {}),
        checkpoint: flags.checkpoint,
        resume: flags.resume,
        // GRAFT_NATIVE_GEMM=0 keeps fine-tuning's matrix products in tfjs-wasm (README); the library reads no env vars.
        nativeGemm: process.env.GRAFT_NATIVE_GEMM !== '0',
      });
      let reportPath: string | undefined;
      if (flags.report) {
        reportPath = join(result.model, 'report.html');
        // Loaded only when asked for: the report pulls in sharp for its thumbnails (~90 ms of start-up).
        const { buildReport } = await import('../../report/build-report.js');
        await writeFileAtomic(reportPath, (await buildReport(result.model, { onProgress: progress })).html);
      }
      progress.stop();
      const testDir = store || flags.json ? undefined : await unusedTestData(requireData(dir), result.data);
      printResult(flags.json, reportPath ? { ...result, report: reportPath } : result, () => formatTrainResult(result, testDir) + (reportPath ? `\nreport: ${reportPath}` : ''));
    } catch (error) {
      progress.stop();
      reportFailure(error, flags.json, cancel?.received);
    } finally {
      cancel?.dispose();
    }
  });
}

/** The store folder to train from: --store, or a data argument that is a store (it holds shard files). */
function featureStoreFrom(dir: string | undefined, store: string | undefined): string | undefined {
  if (store !== undefined) {
    if (dir !== undefined) throw new GraftError('INVALID_CONFIG', `Pass either a data folder or --store <store-dir>, not both. Received: ${dir} and --store ${store}`);
    return store;
  }
  return dir !== undefined && isFeatureStore(dir) ? dir : undefined;
}

function requireData(dir: string | undefined): string {
  if (dir === undefined) {
    throw new GraftError('INVALID_CONFIG', 'graft train needs the training data: a folder, a manifest, or --store <store-dir>.', {
      hint: 'e.g. graft train photos/ --out model, or graft train --store features/ --out model',
    });
  }
  return dir;
}

function refuseWithStore(flag: string): never {
  throw new GraftError('INVALID_CONFIG', `${flag} cannot be used when training from a feature store: the store holds features, not images.`, {
    hint:
      flag === '--val'
        ? "the store's own val part, or --val-split, chooses validation rows"
        : flag === '--label-pattern'
          ? 'the store holds the labels it was made with; train from the image folder with --label-pattern instead'
          : 'fine-tune from the image folder instead',
  });
}

/**
 * Reads a --config file: a TrainConfig, or a whole graft.json whose `training.config` section is one (with its
 * `fineTune` section when the model was fine-tuned; a version 1 graft.json is read as version 2), and the
 * `--val-split` fraction a graft.json's run held out. Values are validated by trainConfigFrom / fineTuneConfigFrom.
 */
function readConfig(file: string): { config: NonNullable<TrainOptions['config']>; fineTune: Partial<FineTuneConfig> | undefined; valSplit: number | undefined; backbone: RecordedBackbone | undefined } {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (cause) {
    throw new GraftError('INVALID_CONFIG', `Cannot read training config ${file}: ${(cause as Error).message}`, { cause });
  }
  const manifest = parsed.format === 'graft-model' && parsed.version === 1 ? upgradeV1(parsed) : parsed;
  const training = manifest.training as { config?: unknown } | undefined;
  // A head saved by recipes.saveHeadModel was fitted outside Graft: its graft.json records no run to replay.
  if (parsed.format === 'graft-model' && training === undefined && isObject(manifest.head) && manifest.head.trainedBy === 'external') {
    throw new GraftError('INVALID_CONFIG', `${file} is a model whose head was trained outside Graft (head.trainedBy: "external"): it records no training run to replay`, {
      hint: 'pass the graft.json of a model `graft train` wrote, or a config of options such as {"c": 1}',
    });
  }
  // A whole graft.json, its "training" section ({config, outcome}), or a bare config.
  const isSection = parsed.format !== 'graft-model' && isObject(parsed.config) && Object.keys(parsed).every((k) => k === 'config' || k === 'outcome');
  const config = (parsed.format === 'graft-model' ? training?.config : isSection ? parsed.config : parsed) as Record<string, unknown> & { head?: Partial<HeadConfig>; fineTune?: Record<string, unknown> };
  if (!isObject(config)) throw new GraftError('INVALID_CONFIG', `Training config ${file} holds no training config`, { hint: 'pass a graft.json, its "training" section, or an object of options such as {"c": 1}' });
  const keys: (keyof TrainConfig)[] = ['epochs', 'batchSize', 'learningRate', 'patience', 'weightDecay', 'labelSmoothing', 'seed', 'c', 'mirror', 'tta', 'crops', 'folds', 'groupBy', 'multiScale', 'classWeights'];
  // Keep what decides a run; a key nothing reads (a typo such as "hiden") is refused rather than silently ignored.
  refuseUnknownKeys(file, '', config, [...keys, 'head', 'fineTune']);
  if (isObject(config.head)) refuseUnknownKeys(file, 'head.', config.head, ['hidden', 'dropout']);
  const pick = <K extends string>(from: Record<string, unknown>, keys: readonly K[]) => Object.fromEntries(keys.filter((k) => from[k] !== undefined).map((k) => [k, from[k]]));
  // The fraction a --val-split run held out is recorded with its outcome (where its data came from), not its config.
  const outcome = (parsed.format === 'graft-model' ? (training as { outcome?: unknown } | undefined)?.outcome : isSection ? parsed.outcome : undefined) as { data?: { valSplit?: unknown } } | undefined;
  const valSplit = typeof outcome?.data?.valSplit === 'number' && outcome.data.valSplit > 0 ? outcome.data.valSplit : undefined;
  const backbone = parsed.format === 'graft-model' && isObject(manifest.backbone) && typeof manifest.backbone.source === 'string' && isObject(manifest.preprocessing)
    ? { source: manifest.backbone.source, preprocessing: manifest.preprocessing as unknown as Preprocessing, ...(Array.isArray(manifest.backbone.scales) ? { scales: manifest.backbone.scales as number[] } : {}) }
    : undefined;
  return {
    valSplit,
    backbone,
    config: { ...pick(config, keys), ...(config.head ? { head: { hidden: config.head.hidden, dropout: config.head.dropout } } : {}) },
    fineTune: config.fineTune ? (pick(config.fineTune, Object.keys(DEFAULT_FINE_TUNE) as (keyof FineTuneConfig)[]) as Partial<FineTuneConfig>) : undefined,
  };
}

/**
 * What `graft train` prints without --json.
 * @param testDir the dataset's unused `test/` folder (or split manifest), which the closing `next:` line offers to `graft eval`.
 */
export function formatTrainResult(r: TrainResult, testDir?: string): string {
  const scales = r.backbone.scales ? `, ${r.backbone.scales.length} scales` : '';
  const lines = [
    '',
    `model written to ${r.model}`,
    `  backbone   ${r.backbone.name} (${r.backbone.featureDim}-d features${scales}, ${r.backbone.preprocessing.inputSize}px, scale ${r.backbone.preprocessing.scale})`,
    `  head       ${describeTrainedHead(r)}`,
  ];
  if (r.selection) {
    const s = r.selection;
    lines.push(
      `  chosen by  ${s.folds}-fold cross-validation${s.grouped ? ' (grouped)' : ''} on ${s.sample ? `a stratified sample of ${s.sample.rows} of the ${s.sample.of} training rows, then refitted on all` : 'the training images'} (${s.table.length} candidates, lowest ${s.criterion}, ${s.seconds.toFixed(1)} s)`,
      `  CV         accuracy ${s.chosen.accuracy.toFixed(4)}, log-loss ${s.chosen.logLoss.toFixed(4)}${s.classWeighted ? ' (every class weighed alike: accuracy is the mean recall over classes)' : ''}`,
    );
  }
  lines.push(
    `  images     ${r.images.train} train, ${r.images.val} val, ${r.images.skipped.length} skipped`,
    r.fineTune?.resumedAfter ? '  features   head phase restored from the checkpoint (no features read)' : `  features   ${r.features.computed} computed, ${r.features.cached} from cache`,
    `  time       extract ${r.timings.extract_s.toFixed(1)} s, train ${r.timings.train_s.toFixed(1)} s, total ${r.timings.total_s.toFixed(1)} s`,
  );
  if (r.fineTune) {
    const f = r.fineTune;
    const compared = describeHoldout(f.holdout);
    const outcome =
      f.kept === 'head'
        ? `fine-tuning (${f.history.length} epoch${f.history.length === 1 ? '' : 's'}) did not clearly beat the head alone ${compared || 'on held-out training images'}, so the model is the head`
        : `best epoch ${f.bestEpoch} of ${f.history.length}, ${compared || 'on held-out training images'}; then refitted on every training image`;
    lines.push(
      `  fine-tune  ${f.cut.description}; ${outcome}${f.resumedAfter ? ` (resumed after epoch ${f.resumedAfter})` : ''}`,
      `             ${f.config.views} augmented view${f.config.views === 1 ? '' : 's'} per image, activations ${f.activations.computed} computed / ${f.activations.cached} cached in ${f.timings.activations_s.toFixed(1)} s, training ${f.timings.train_s.toFixed(1)} s (${f.trainImgPerSec} img/s)`,
      `             export checked on ${f.exportCheck.images} images: max |diff| ${f.exportCheck.maxAbsDiff.toExponential(1)}`,
    );
  }
  if (r.val) {
    const rows = r.data.valPart ? `: the ${r.data.valPart} rows of ${r.data.val}` : '';
    lines.push(`  val        accuracy ${r.val.accuracy.toFixed(4)}${r.val.top5 === undefined ? '' : `, top-5 ${r.val.top5.toFixed(4)}`}, loss ${r.val.loss.toFixed(4)} (${r.val.count} images${rows}; scored only, never used to choose)`);
  } else {
    // An MLP's epoch is kept on a held-out fifth; a linear head with C fixed and a one-image class has no CV score.
    const estimate = r.selection ? 'the CV accuracy above is the estimate' : 'no estimate of accuracy: pass --val or --val-split for one';
    // A split that held out nothing: every class was one --group-by group (a class's only group is trained on).
    const emptySplit = r.data.valSplit ? `--val-split ${r.data.valSplit} held out nothing: a class of one image, or of one --group-by group, is trained on; ` : '';
    lines.push(`  val        none (${emptySplit}${r.selection ? 'every training image trained; ' : ''}${estimate})`);
  }
  if (!r.selection) lines.push(`  labels     ${LABELS_NOT_CHECKED}`);
  if (r.labelIssues.length) {
    lines.push(`  labels     ${r.labelIssues.length} training image${r.labelIssues.length === 1 ? '' : 's'} may be mislabelled (most suspicious first; all in --json, up to 60 in the report):`);
    const caveat = labelIssuesCaveat(r.selection);
    if (caveat) lines.push(`             ${caveat}`);
    for (const issue of r.labelIssues.slice(0, 5)) lines.push(`             ${issue.file}: labelled ${issue.given}, looks like ${issue.predicted} (${(issue.confidence * 100).toFixed(0)}%)`);
  }
  for (const s of r.images.skipped) lines.push(`  skipped    ${s.file}: ${s.reason}`);
  const model = shellWord(r.model);
  lines.push('', `next: graft eval ${model} ${testDir === undefined ? '<test-dir>' : shellWord(testDir)}   |   graft predict ${model} <image...>   |   graft report ${model}`);
  return lines.join('\n');
}

function describeTrainedHead(r: TrainResult): string {
  const h = r.head;
  const tta = h.tta ? '; test-time augmentation: image + mirror image averaged (2 backbone passes per scale)' : '';
  if (h.kind === 'linear') return `linear (L2 logistic regression), C = ${h.c?.toPrecision(2)}, trained on ${describeRows(h.trainViews)}${tta}`;
  return `${describeHead(h)}; best epoch ${r.bestEpoch} of ${r.history.length} (on a held-out fifth of the training images)${tta}`;
}

/** What a linear head trained on, in words. */
function describeRows(views: TrainViews | undefined): string {
  const mirrors = views !== undefined && hasMirrorRows(views);
  const crops = views !== undefined && hasCropRows(views);
  return `${mirrors ? 'images and their mirror images' : 'the images'}${crops ? `${mirrors ? ',' : ''} and their corner crops` : ''}`;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A key nothing reads (a typo such as "hiden") is refused rather than silently ignored; `version` is the file's own. */
function refuseUnknownKeys(file: string, prefix: string, object: Record<string, unknown>, known: readonly string[]): void {
  const unknown = Object.keys(object).filter((k) => k !== 'version' && !known.includes(k));
  if (unknown.length === 0) return;
  throw new GraftError('INVALID_CONFIG', `Training config ${file} has ${unknown.length === 1 ? 'a key' : 'keys'} Graft does not know: ${unknown.map((k) => prefix + k).join(', ')}`, {
    hint: `the keys${prefix ? ` of ${prefix.slice(0, -1)}` : ''} are ${known.join(', ')}`,
  });
}
