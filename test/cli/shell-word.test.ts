import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { shellWord } from '../../src/cli/output.js';

describe('shellWord: paths in the suggested next commands', () => {
  const values = ['/tmp/model', 'graft-demo/model', '/tmp/my model', "/tmp/it's here", 'C:\\models\\run 1', 'a$b`c`"d"', '/tmp/abeilles_é/*.jpg', '-x; rm -rf ~'];

  it('reads back as the same single word in a POSIX shell', () => {
    for (const value of values) {
      const echoed = execFileSync('/bin/sh', ['-c', `printf '%s|' ${shellWord(value)}`]).toString();
      expect(echoed, value).toBe(`${value}|`);
    }
  });

  it('leaves plain paths as they are', () => {
    expect(shellWord('/tmp/graft-demo/model')).toBe('/tmp/graft-demo/model');
    expect(shellWord('/tmp/my model')).toBe("'/tmp/my model'");
  });
});
