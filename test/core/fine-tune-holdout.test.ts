import { describe, expect, it } from 'vitest';
import { describeHoldout } from '../../src/core/fine-tune-holdout.js';

describe('describeHoldout', () => {
  const compared = { images: 27, headLoss: 0.183, bestLoss: 0.0072, headAccuracy: 0.9774, bestAccuracy: 1, t: -5.86 };

  it('says both models’ log-loss and accuracy on the held-out images', () => {
    expect(describeHoldout(compared)).toBe("on 27 held-out training images: log-loss 0.007 against the head's 0.183, accuracy 100.0% against 97.7%");
  });

  it('says "class-weighted" where the classes weighed differently: 76.5% on 4 images read as impossible', () => {
    expect(describeHoldout({ ...compared, images: 4, headAccuracy: 0.7647, bestAccuracy: 0.7647, classWeighted: true })).toBe(
      "on 4 held-out training images: class-weighted log-loss 0.007 against the head's 0.183, class-weighted accuracy 76.5% against 76.5%",
    );
  });

  it('adds the second trial, or that no epoch beat the head there', () => {
    expect(describeHoldout({ ...compared, again: { ...compared, images: 26, bestLoss: 0.4, bestAccuracy: 0.9 } })).toBe(
      "on 27 held-out training images: log-loss 0.007 against the head's 0.183, accuracy 100.0% against 97.7%; again on 26 others: log-loss 0.400 against the head's 0.183, accuracy 90.0% against 97.7%",
    );
    expect(describeHoldout({ ...compared, again: { images: 26, headLoss: 0.2, bestLoss: null } })).toMatch(/; again on 26 others: no fine-tuning epoch beat the head$/);
  });

  it('where no epoch beat the head fine-tuning started from, says that head’s log-loss (the bar) and the head alone’s', () => {
    // QA: epochs at 0.2703, below the head alone's 0.2786, yet none kept: the bar was epoch 0's 0.2535.
    const notBeaten = { images: 6, headLoss: 0.278648, startingHeadLoss: 0.253531, bestLoss: null };
    expect(describeHoldout(notBeaten)).toBe(
      "on 6 held-out training images: no fine-tuning epoch beat the log-loss 0.2535 of epoch 0, the one-scale head it started from (the head alone's: 0.2786)",
    );
    expect(describeHoldout({ ...notBeaten, classWeighted: true })).toMatch(/beat the class-weighted log-loss 0\.2535 of epoch 0/);
    expect(describeHoldout({ ...compared, again: { ...notBeaten, images: 26 } })).toMatch(/; again on 26 others: no fine-tuning epoch beat the log-loss 0\.2535 of epoch 0/);
  });

  it('is empty when nothing was compared (no epoch trained, or an older record)', () => {
    expect(describeHoldout(undefined)).toBe('');
    expect(describeHoldout({ images: 4, headLoss: 0.25, bestLoss: null })).toBe('');
    expect(describeHoldout({ images: 4, headLoss: 0.25, bestLoss: 0.2 })).toBe('');
  });
});
