import { describe, expect, it } from 'vitest';
import { labelIssuesCaveat, WEAK_HEAD_CV_ACCURACY } from '../../src/core/selection-report.js';

describe('labelIssuesCaveat', () => {
  it('warns only when the head that found the issues is weak, and says how weak', () => {
    expect(labelIssuesCaveat(0.757)).toMatch(/^The head is right on 76% of the training images out of fold, so some of these are its own mistakes/);
    expect(labelIssuesCaveat(WEAK_HEAD_CV_ACCURACY - 1e-9)).toBeDefined();
    expect(labelIssuesCaveat(WEAK_HEAD_CV_ACCURACY)).toBeUndefined();
    expect(labelIssuesCaveat(0.92)).toBeUndefined();
    expect(labelIssuesCaveat(undefined)).toBeUndefined();
    expect(labelIssuesCaveat(Number.NaN)).toBeUndefined();
  });
});
