import { GraftError } from '../core/errors.js';
import { optionExample, optionName } from '../core/option-name.js';
import type { HeadConfig } from '../core/training-config.js';

// The type is plain data in core/ (the manifest records it); learn/ keeps its public name here.
export type { HeadConfig };

export const DEFAULT_HEAD: HeadConfig = { version: 1, hidden: [], dropout: 0.5 };

/** Validates a head config from JSON (a manifest, a --config file) and rejects unknown keys. */
export function headFromConfig(config: unknown): HeadConfig {
  if (typeof config !== 'object' || config === null) throw new GraftError('INVALID_CONFIG', `Head config must be an object. Received: ${JSON.stringify(config)}`);
  const known = ['version', 'hidden', 'dropout'];
  const unknown = Object.keys(config).filter((k) => !known.includes(k));
  if (unknown.length) throw new GraftError('INVALID_CONFIG', `Unknown head config keys: ${unknown.join(', ')}. Known: ${known.join(', ')}`);
  const { hidden = DEFAULT_HEAD.hidden, dropout = DEFAULT_HEAD.dropout } = config as Partial<HeadConfig>;
  if (!Array.isArray(hidden) || hidden.some((u) => !Number.isInteger(u) || u < 1 || u > 65536)) {
    throw new GraftError('INVALID_CONFIG', `${optionName('head.hidden')} must be positive integers. Received: ${JSON.stringify(hidden)}`, {
      hint: `e.g. ${optionExample('head.hidden', [1024])}, or ${optionExample('head.hidden', [], '0')} for a linear head`,
    });
  }
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) {
    throw new GraftError('INVALID_CONFIG', `${optionName('head.dropout')} must be in [0, 1). Received: ${String(dropout)}`, { hint: `e.g. ${optionExample('head.dropout', 0.5)}` });
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
