import { GraftError } from '../core/errors.js';

/** What `--unfreeze` asks for: everything, the last N blocks, or everything after a named tensor or node. */
export type UnfreezeSpec = { readonly kind: 'all' } | { readonly kind: 'last'; readonly blocks: number } | { readonly kind: 'from'; readonly name: string };

const UNFREEZE_HINT = 'use all, last:<N> (e.g. last:3) or from:<tensor or node name>; `graft inspect --cut-points` lists the tensors';

/**
 * Parses the CLI's `--unfreeze` text: `all`, `last:<N>` (N >= 1) or `from:<tensor or node name>`.
 *
 * @throws GraftError `INVALID_CONFIG` for anything else, quoting the text received.
 * @example
 * parseUnfreeze('last:3'); // { kind: 'last', blocks: 3 }
 */
export function parseUnfreeze(text: string): UnfreezeSpec {
  const value = text.trim();
  if (value === 'all') return { kind: 'all' };
  const last = /^last:(.*)$/.exec(value);
  if (last) {
    const blocks = Number(last[1]);
    if (!/^\d+$/.test(last[1]!.trim()) || !Number.isSafeInteger(blocks) || blocks < 1) {
      throw new GraftError('INVALID_CONFIG', `--unfreeze last:<N> needs a whole number of blocks >= 1. Received: "${text}"`, {
        hint: blocks === 0 ? 'to train the head only, leave --unfreeze out' : UNFREEZE_HINT,
      });
    }
    return { kind: 'last', blocks };
  }
  const from = /^from:(.*)$/.exec(value);
  if (from) {
    if (from[1]!.length === 0) throw new GraftError('INVALID_CONFIG', `--unfreeze from:<name> needs a tensor or node name. Received: "${text}"`, { hint: UNFREEZE_HINT });
    return { kind: 'from', name: from[1]! };
  }
  throw new GraftError('INVALID_CONFIG', `Unknown --unfreeze value. Received: "${text}"`, { hint: UNFREEZE_HINT });
}

/** The CLI text of a spec; `parseUnfreeze(formatUnfreeze(s))` gives `s` back. */
export function formatUnfreeze(spec: UnfreezeSpec): string {
  return spec.kind === 'all' ? 'all' : spec.kind === 'last' ? `last:${spec.blocks}` : `from:${spec.name}`;
}
