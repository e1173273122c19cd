import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support.js';

/** A process holding cancelOnSignal (the built CLI's) and busy in a step that does not end on its own. */
const BUSY = `
  const { cancelOnSignal } = await import(${JSON.stringify(pathToFileURL(join(repoRoot, 'dist/cli/until-signal.js')).href)});
  const { signal } = cancelOnSignal();
  signal.addEventListener('abort', () => process.stdout.write('aborted\\n'));
  process.stdout.write('ready\\n');
  setInterval(() => {}, 1000);
`;

describe('Ctrl+C in a long command (README: "a second Ctrl+C quits at once")', () => {
  it('the first asks the work to stop at its next step; the second, while a step still runs, exits 130 at once', async () => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', BUSY], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const said = (text: string): Promise<void> =>
      new Promise((resolve) => {
        const check = (chunk?: Buffer): void => {
          if (chunk) stdout += chunk.toString();
          if (stdout.includes(text)) {
            child.stdout.off('data', check);
            resolve();
          }
        };
        child.stdout.on('data', check);
        check();
      });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await said('ready');
    child.kill('SIGINT');
    await said('aborted');
    // Still running: the step has not ended, and the first Ctrl+C only asked it to.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(child.exitCode).toBeNull();
    expect(stderr).toContain('SIGINT: stopping at the next step (press Ctrl+C again to quit at once)');
    child.kill('SIGINT');
    try {
      expect(await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('still running 3 s later'), 3000))])).toBe(130);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
