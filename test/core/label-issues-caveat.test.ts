import { describe, expect, it } from 'vitest';
import { labelIssuesCaveat, WEAK_HEAD_CV_ACCURACY } from '../../src/core/selection-report.js';

const at = (accuracy: number, classWeighted?: boolean) => ({ chosen: { accuracy }, ...(classWeighted ? { classWeighted } : {}) });

describe('labelIssuesCaveat', () => {
  it('warns only when the head that found the issues is weak, and says how weak', () => {
    expect(labelIssuesCaveat(at(0.757))).toMatch(/^The head is right on 76% of the training images out of fold, so some of these are its own mistakes/);
    expect(labelIssuesCaveat(at(WEAK_HEAD_CV_ACCURACY - 1e-9))).toBeDefined();
    expect(labelIssuesCaveat(at(WEAK_HEAD_CV_ACCURACY))).toBeUndefined();
    expect(labelIssuesCaveat(at(0.92))).toBeUndefined();
    expect(labelIssuesCaveat(undefined)).toBeUndefined();
    expect(labelIssuesCaveat(null)).toBeUndefined();
    expect(labelIssuesCaveat(at(Number.NaN))).toBeUndefined();
  });

  it('says a class-weighted accuracy as the mean over classes, not a share of the images', () => {
    // 58 of 63 images right (0.92), but one class of 3 at 1/3: the mean recall is 0.83.
    expect(labelIssuesCaveat(at(0.829, true))).toMatch(/^The head is right on 83% of each class's training images out of fold \(the mean over classes\)/);
  });
});
