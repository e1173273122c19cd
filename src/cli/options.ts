import { InvalidArgumentError, Option, type Command } from 'commander';
import type { RuntimeName } from '../core/model-format.js';
import { LAYOUTS, SCALES, type Layout, type ResizeMode, type Scale } from '../core/preprocessing.js';
import type { BackboneOptions, PreprocessingOverrides } from '../engine/open-backbone.js';
import type { ProgressListener } from '../core/progress.js';
import { definedOnly } from '../core/defined-only.js';
import { backboneSearch, cacheDirFrom } from './environment.js';

/** Flags shared by every command that runs a backbone. */
export function addBackboneOptions(command: Command): Command {
  return command
    .option('--backbone <name|path|url>', 'pretrained model: catalogue name, .onnx file, TF.js model folder or URL', 'mobilenet_v2')
    .option('--input-size <pixels>', 'input side for a backbone the catalogue does not know', parseInteger)
    .addOption(new Option('--scale <scale>', 'pixel scaling for an unknown backbone').choices(SCALES as string[]))
    .addOption(new Option('--layout <layout>', 'tensor layout for an unknown backbone').choices(LAYOUTS as string[]))
    .addOption(new Option('--resize <mode>', 'how images become square').choices(['center-crop', 'stretch']))
    .option('--crop-fraction <f>', 'share of the short side a centre crop keeps (catalogue: 0.875, ImageNet evaluation; unknown backbones: 1)', parseNumber)
    .option('--feature-output <name>', 'ONNX tensor or TF.js layer to take features from (default: found automatically)')
    .addOption(new Option('--engine <engine>', 'where a TF.js backbone runs (default onnxruntime, via its cached ONNX export)').choices(['onnxruntime', 'tfjs']))
    .option('--cache-dir <dir>', 'feature and model cache (default: $GRAFT_CACHE_DIR or the user cache folder)')
    .option('--offline', 'never use the network', false)
    .option('--json', 'print one JSON object on stdout', false);
}

/**
 * Accepts a flag's old spelling for its current one, hidden from --help, so that scripts written for the old name
 * keep working: the value lands where the current flag's does, and stderr says the new name once (even with --json,
 * whose output is stdout). One idea has one flag name across commands (`--store` is the feature store folder in
 * embed, train and features import).
 * @example
 * addOldSpelling(command, '--features <store-dir>', '--store') // graft train --features x = graft train --store x
 */
export function addOldSpelling(command: Command, oldFlags: string, current: `--${string}`): Command {
  const old = new Option(oldFlags, `old spelling of ${current}`).hideHelp();
  const target = current.slice(2).replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
  command.addOption(old);
  command.on(`option:${old.name()}`, (value: unknown) => {
    process.stderr.write(`warning: ${old.long} is now ${current} (the old name still works)\n`);
    command.setOptionValueWithSource(target, value, 'cli');
  });
  return command;
}

export interface BackboneFlags {
  backbone: string;
  inputSize?: number;
  scale?: Scale;
  layout?: Layout;
  resize?: ResizeMode;
  cropFraction?: number;
  featureOutput?: string;
  engine?: RuntimeName;
  cacheDir?: string;
  offline: boolean;
  json: boolean;
}

export function backboneOptionsFrom(flags: BackboneFlags, onProgress: ProgressListener): BackboneOptions {
  const overrides: PreprocessingOverrides = { inputSize: flags.inputSize, scale: flags.scale, layout: flags.layout, resize: flags.resize, cropFraction: flags.cropFraction };
  return {
    backbone: flags.backbone,
    cacheDir: cacheDirFrom(flags.cacheDir),
    ...backboneSearch(),
    offline: flags.offline,
    overrides: definedOnly(overrides),
    featureOutput: flags.featureOutput,
    engine: flags.engine,
    onProgress,
  };
}

/** A number, or the word auto (a choice left to cross-validation). */
export function parseAutoNumber(value: string): number | 'auto' {
  return value === 'auto' ? 'auto' : parseNumber(value);
}

// The parsers below throw commander's InvalidArgumentError, so that the message names the flag:
// "option '--val-split <fraction>' argument 'abc' is invalid. Expected a number." (exit 2, JSON with --json).

export function parseInteger(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n)) throw new InvalidArgumentError('Expected an integer.');
  return n;
}

export function parseNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError('Expected a number.');
  return n;
}

/** `parse`, then a range check: what the value must be is said with the value received. */
function bounded(parse: (value: string) => number, isInRange: (n: number) => boolean, expected: string): (value: string) => number {
  return (value) => {
    const n = parse(value);
    if (!isInRange(n)) throw new InvalidArgumentError(`Expected ${expected}.`);
    return n;
  };
}

export const parsePositiveInteger = bounded(parseInteger, (n) => n >= 1, 'an integer of 1 or more');
export const parseNonNegativeInteger = bounded(parseInteger, (n) => n >= 0, 'an integer of 0 or more');
export const parsePositiveNumber = bounded(parseNumber, (n) => n > 0, 'a number above 0');
export const parseNonNegativeNumber = bounded(parseNumber, (n) => n >= 0, 'a number of 0 or more');

/** A TCP port: 0 (any free one) to 65535. */
export function parsePort(value: string): number {
  const n = parseInteger(value);
  if (n < 0 || n > 65535) throw new InvalidArgumentError('A port is 0 to 65535 (0: any free port).');
  return n;
}

/** `--hidden 1024` or `--hidden 512,256`; `--hidden 0` is a linear head. */
export function parseHidden(value: string): number[] {
  if (value.trim() === '0') return [];
  const units = value.split(',').map((s) => Number(s.trim()));
  if (units.some((u) => !Number.isInteger(u) || u < 1)) {
    throw new InvalidArgumentError('Expected positive integers separated by commas, or 0.');
  }
  return units;
}

/** `--label-pattern`'s help, the same for train, eval and inspect. */
export const LABEL_PATTERN_HELP = "the class of each image from its file name, not its folder (fastai's from_name_re): the regex's first capture group (else its whole match), e.g. '^(.+)_\\d+\\.jpg$'";
