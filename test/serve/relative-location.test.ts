import { describe, expect, it } from 'vitest';
import { relativeLocation } from '../../src/serve/relative-location.js';

describe('relativeLocation', () => {
  const cases: [from: string, to: string, expected: string][] = [
    ['/', '/dashboard/', 'dashboard/'],
    ['/dashboard', '/dashboard/', 'dashboard/'],
    ['/dashboard/', '/dashboard/', './'],
    ['/', '/', './'],
    ['/v1/models/a', '/v1/models/a', 'a'],
    ['/a/b/', '/c', '../../c'],
    ['/a/b/c', '/a/x/', '../x/'],
    ['/', '/a:b', './a:b'],
  ];
  it.each(cases)('from %s to %s is %s', (from, to, expected) => {
    expect(relativeLocation(from, to)).toBe(expected);
  });

  it('resolves to the target under any path a proxy publishes the server at', () => {
    for (const [from, to] of cases) {
      for (const prefix of ['', '/graft', '/a/b']) {
        expect(new URL(relativeLocation(from, to), `https://host${prefix}${from}`).href).toBe(`https://host${prefix}${to}`);
      }
    }
  });
});
