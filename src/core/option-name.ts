/**
 * The two names of each setting a message may name: the library's option, as a caller of `train()` writes it
 * (`valSplit`; `fineTune.epochs` inside `fineTune`, `head.hidden` inside `config.head`, `overrides.inputSize`; the
 * `config` keys bare, as `trainConfigFrom` takes them), and the `graft train` flag a CLI user types. One message serves
 * both readers, so it names both: `valSplit (--val-split)`. Null: no flag sets it (a `--config` file does).
 */
const FLAGS = {
  val: '--val',
  valSplit: '--val-split',
  labelPattern: '--label-pattern',
  out: '--out',
  resume: '--resume',
  features: '--store',
  backbone: '--backbone',
  engine: '--engine',
  inMemoryRows: '--in-memory-rows',
  selectionRows: '--selection-rows',
  workDir: '--work-dir',
  multiScale: '--no-multi-scale',
  c: '--c',
  mirror: '--mirror',
  tta: '--tta',
  crops: '--crops',
  folds: '--folds',
  groupBy: '--group-by',
  classWeights: '--class-weights',
  epochs: '--epochs',
  batchSize: '--batch-size',
  learningRate: '--lr',
  patience: '--patience',
  weightDecay: '--weight-decay',
  labelSmoothing: '--label-smoothing',
  seed: '--seed',
  'head.hidden': '--hidden',
  'head.dropout': '--dropout',
  'fineTune.unfreeze': '--unfreeze',
  'fineTune.epochs': '--fine-tune-epochs',
  'fineTune.learningRate': '--fine-tune-lr',
  'fineTune.bodyLrRatio': '--body-lr-ratio',
  'fineTune.schedule': '--schedule',
  'fineTune.batchSize': '--batch-size',
  'fineTune.views': '--views',
  'fineTune.patience': '--fine-tune-patience',
  'fineTune.classWeights': '--class-weights',
  'fineTune.labelSmoothing': '--label-smoothing',
  'fineTune.batchNorm': '--train-batchnorm',
  'fineTune.weightDecay': null,
  'overrides.inputSize': '--input-size',
  'overrides.cropFraction': '--crop-fraction',
} as const satisfies Record<string, `--${string}` | null>;

/** A setting messages can name (see {@link optionName}). */
export type OptionPath = keyof typeof FLAGS;

/**
 * The setting as both readers know it, for a message: the option and, in brackets, its flag.
 * @example
 * optionName('valSplit') // 'valSplit (--val-split)'
 */
export function optionName(option: OptionPath): string {
  const flag = FLAGS[option];
  return flag === null ? option : `${option} (${flag})`;
}

/**
 * An example setting for a hint, in both forms: the option's value as TypeScript writes it, then the flag as a shell
 * takes it (`shellValue`, default the value's text; '' for a flag that takes none, as a boolean's: `--resume`).
 * @example
 * optionExample('valSplit', 0.2) // 'valSplit: 0.2 (--val-split 0.2)'
 * optionExample('crops', 'on') // "crops: 'on' (--crops on)"
 * optionExample('fineTune.epochs', 6) // 'fineTune: { epochs: 6 } (--fine-tune-epochs 6)'
 */
export function optionExample(option: OptionPath, value: string | number | boolean | readonly number[], shellValue?: string): string {
  const flag = FLAGS[option];
  const written = typeof value === 'string' ? `'${value}'` : Array.isArray(value) ? `[${value.join(', ')}]` : String(value);
  const [outer, inner] = option.split('.');
  const setting = inner === undefined ? `${outer}: ${written}` : `${outer}: { ${inner}: ${written} }`;
  if (flag === null) return setting;
  const shell = typeof value === 'boolean' || shellValue === '' ? '' : ` ${shellValue ?? (Array.isArray(value) ? value.join(',') : String(value))}`;
  return `${setting} (${flag}${shell})`;
}
