import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { parseNonNegativeInteger, parseNonNegativeNumber, parsePort, parsePositiveInteger, parsePositiveNumber } from '../../src/cli/options.js';

describe('option parsers with a range', () => {
  it('take the values in range and refuse the others, saying what is expected and what was received', () => {
    expect([parsePositiveInteger('5'), parseNonNegativeInteger('0'), parsePositiveNumber('0.5'), parseNonNegativeNumber('0'), parsePort('0'), parsePort('65535')]).toEqual([5, 0, 0.5, 0, 0, 65535]);
    // commander adds the flag and the value: "option '--top <k>' argument '0' is invalid. Expected ...".
    expect(() => parsePositiveInteger('0')).toThrow(new InvalidArgumentError('Expected an integer of 1 or more.'));
    expect(() => parsePositiveInteger('1.5')).toThrow('Expected an integer.');
    expect(() => parsePositiveInteger('')).toThrow('Expected an integer.');
    expect(() => parseNonNegativeInteger('-1')).toThrow('Expected an integer of 0 or more.');
    expect(() => parsePositiveNumber('0')).toThrow('Expected a number above 0.');
    expect(() => parseNonNegativeNumber('-0.1')).toThrow('Expected a number of 0 or more.');
    expect(() => parsePort('99999')).toThrow('A port is 0 to 65535 (0: any free port).');
  });
});
