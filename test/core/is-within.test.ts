import { describe, expect, it } from 'vitest';
import { isWithin } from '../../src/core/is-within.js';

describe('isWithin', () => {
  it('is true for the folder itself and what lies below it, false for siblings, parents and escapes', () => {
    expect(['/data', '/data/', '/data/a/b.jpg', '/data/..b'].map((p) => isWithin(p, '/data'))).toEqual([true, true, true, true]);
    expect(['/data2', '/', '/data/../x', '/other/data'].map((p) => isWithin(p, '/data'))).toEqual([false, false, false, false]);
  });
});
