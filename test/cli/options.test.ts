import { describe, expect, it } from 'vitest';
import { parseNonNegativeInteger, parseNonNegativeNumber, parsePort, parsePositiveInteger, parsePositiveNumber } from '../../src/cli/options.js';

describe('option parsers with a range', () => {
  it('take the values in range and refuse the others, saying what is expected and what was received', () => {
    expect([parsePositiveInteger('5'), parseNonNegativeInteger('0'), parsePositiveNumber('0.5'), parseNonNegativeNumber('0'), parsePort('0'), parsePort('65535')]).toEqual([5, 0, 0.5, 0, 0, 65535]);
    expect(() => parsePositiveInteger('0')).toThrow('Expected an integer of 1 or more. Received: 0');
    expect(() => parsePositiveInteger('1.5')).toThrow('Expected an integer. Received: 1.5');
    expect(() => parseNonNegativeInteger('-1')).toThrow('Expected an integer of 0 or more. Received: -1');
    expect(() => parsePositiveNumber('0')).toThrow('Expected a number above 0. Received: 0');
    expect(() => parseNonNegativeNumber('-0.1')).toThrow('Expected a number of 0 or more. Received: -0.1');
    expect(() => parsePort('99999')).toThrow('A port is 0 to 65535. Received: 99999');
  });
});
