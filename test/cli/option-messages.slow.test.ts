import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasShared, hymenoptera, parseJsonOutput, runCli, skipReason, tempDir } from '../support.js';

interface ErrorJson {
  error: { code: string; message: string; hint?: string };
}

skipReason('the CLI naming its flags in library messages');
describe.skipIf(!hasShared)('graft train: a refused setting still names the flag the user typed', () => {
  it('--val-split 1.5, and --val with --val-split, exit 2 with messages naming the flags (and the options beside them)', async () => {
    const root = await tempDir('graft-cli-option-messages-');
    const env = { GRAFT_CACHE_DIR: join(root, 'cache') };
    const range = await runCli(['train', join(hymenoptera, 'train'), '--val-split', '1.5', '--out', join(root, 'a'), '--json'], env);
    expect(range.code).toBe(2);
    expect(parseJsonOutput<ErrorJson>(range).error).toEqual({ code: 'INVALID_CONFIG', message: 'valSplit (--val-split) must be in [0, 1). Received: 1.5', hint: 'e.g. valSplit: 0.2 (--val-split 0.2)' });
    const both = await runCli(['train', join(hymenoptera, 'train'), '--val', join(hymenoptera, 'val'), '--val-split', '0.2', '--out', join(root, 'b')], env);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/^error: Pass either val \(--val\) or valSplit \(--val-split\), not both\./m);
    const epochs = await runCli(['train', join(hymenoptera, 'train'), '--hidden', '64', '--epochs', '0', '--out', join(root, 'c'), '--json'], env);
    expect(parseJsonOutput<ErrorJson>(epochs).error).toMatchObject({ message: 'epochs (--epochs) must be a positive integer. Received: 0', hint: 'e.g. epochs: 30 (--epochs 30)' });
    // --help said "0 or more"; the conversion refuses 0: both say "above 0", and the flag refuses it first.
    const tolerance = await runCli(['convert', join(root, 'none'), '--to', 'onnx', '--tolerance', '0', '--json'], env);
    expect(tolerance.code).toBe(2);
    expect(parseJsonOutput<ErrorJson>(tolerance).error.message).toContain('a number above 0');
    expect((await runCli(['convert', '--help'], env)).stdout).toMatch(/--tolerance <maxAbsDiff>\s+largest accepted difference between source and\s+converted outputs \(above 0\)/);
  }, 120_000);
});
