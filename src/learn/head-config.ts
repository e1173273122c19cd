import { GraftError } from '../core/errors.js';

/**
 * The classifier grafted onto the backbone's features. `hidden: []` (the default) is a linear head: multinomial
 * logistic regression with L2, solved exactly, its strength chosen by cross-validation (`fitLinearHead`). With
 * hidden sizes it is an MLP: Dense+ReLU layers with dropout after each, then Dense(classes, softmax), trained by
 * Adam (the seed article's head is `hidden: [1024]`). Features are standardised (per-dimension mean/std from the
 * training set) before the first layer; the standardisation is folded into the first layer's weights on export.
 */
export interface HeadConfig {
  readonly version: 1;
  /** Units of each hidden Dense(relu) layer, e.g. [1024] (an MLP); [] is the linear head. Defaults to [] (measured, bench/RESULTS.md). */
  readonly hidden: readonly number[];
  /** Dropout rate after each hidden layer of an MLP (and on the features while fine-tuning a linear head). Defaults to 0.5. */
  readonly dropout: number;
}

export const DEFAULT_HEAD: HeadConfig = { version: 1, hidden: [], dropout: 0.5 };

/** Validates a head config from JSON (a manifest, a --config file) and rejects unknown keys. */
export function headFromConfig(config: unknown): HeadConfig {
  if (typeof config !== 'object' || config === null) throw new GraftError('INVALID_CONFIG', `Head config must be an object. Received: ${JSON.stringify(config)}`);
  const known = ['version', 'hidden', 'dropout'];
  const unknown = Object.keys(config).filter((k) => !known.includes(k));
  if (unknown.length) throw new GraftError('INVALID_CONFIG', `Unknown head config keys: ${unknown.join(', ')}. Known: ${known.join(', ')}`);
  const { hidden = DEFAULT_HEAD.hidden, dropout = DEFAULT_HEAD.dropout } = config as Partial<HeadConfig>;
  if (!Array.isArray(hidden) || hidden.some((u) => !Number.isInteger(u) || u < 1 || u > 65536)) {
    throw new GraftError('INVALID_CONFIG', `Head hidden sizes must be positive integers. Received: ${JSON.stringify(hidden)}`, {
      hint: 'e.g. --hidden 1024, or --hidden 0 for a linear head',
    });
  }
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) {
    throw new GraftError('INVALID_CONFIG', `Dropout must be in [0, 1). Received: ${String(dropout)}`);
  }
  return { version: 1, hidden: [...hidden], dropout };
}

export function headToConfig(head: HeadConfig): HeadConfig {
  return { version: 1, hidden: [...head.hidden], dropout: head.dropout };
}

/** Whether the head is the linear one (softmax regression by the exact solver) rather than an MLP. */
export function isLinearHead(head: Pick<HeadConfig, 'hidden'>): boolean {
  return head.hidden.length === 0;
}

/** "Dense(1024, relu) -> Dense(N, softmax)" style summary for logs and reports. */
export function describeHead(head: HeadConfig): string {
  if (isLinearHead(head)) return 'linear: Dense(N, softmax), L2-regularised logistic regression';
  return `MLP: ${head.hidden.map((u) => `Dense(${u}, relu)`).join(' -> ')} -> Dense(N, softmax), dropout ${head.dropout}`;
}
