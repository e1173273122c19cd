import { describe, expect, it } from 'vitest';
import { formatSummary } from '../../src/cli/commands/inspect.js';
import type { DatasetSummary } from '../../src/data/dataset-summary.js';

describe('graft inspect text', () => {
  it('past a screenful of small classes and duplicate groups, says how many more (--json has them all)', () => {
    const labels = Array.from({ length: 300 }, (_, i) => `c${String(i).padStart(3, '0')}`);
    const repeated = Array.from({ length: 170 }, (_, i) => ({ file: `/d/links/x${i}.jpg`, part: 'all' as const, label: 'c000' }));
    const summary: DatasetSummary = {
      path: '/d',
      layout: 'class-folders',
      parts: [{ name: 'all', root: '/d', labels, classes: labels.map((label) => ({ label, count: 2, readable: undefined })), imageCount: 600, skipped: [], unreadable: [], skippedCount: 0, unreadableCount: 0 }],
      warnings: [...labels.map((l) => `class "${l}" has only 2 usable images`), 'another warning'],
      duplicates: Array.from({ length: 45 }, (_, i) => ({ sha256: String(i), files: repeated, isAcrossSplits: false, hasConflictingLabels: false })),
    };
    const text = formatSummary(summary);
    expect(text.split('\n').filter((l) => /has only 2 usable images$/.test(l))).toHaveLength(20);
    expect(text).toContain('  warning: ... and 280 more classes with few usable images (--json lists them all)');
    expect(text).toContain('  warning: another warning');
    expect(text.split('\n').filter((l) => l.startsWith('    same image'))).toHaveLength(20);
    expect(text).toContain('    ... and 25 more groups of the same image (--json lists them all)');
    expect(text.length).toBeLessThan(40_000); // it was 300 lines of 10 000 characters
  });
});
