import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * vitest globalSetup: every temporary file of a test run goes under one folder of its own (TMPDIR, which the workers,
 * the CLI processes tests start and Chromium inherit), removed when the run ends. Tests make their folders with
 * `mkdtemp` and few remove them; run after run on one machine they filled its disk (260 feature stores of 212 MB
 * each were found in /tmp).
 */
export default function setup(): () => void {
  const before = process.env.TMPDIR;
  const root = mkdtempSync(join(tmpdir(), 'graft-test-run-'));
  process.env.TMPDIR = root;
  return () => {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
    try {
      rmSync(root, { recursive: true, force: true, maxRetries: 3 });
    } catch (error) {
      // A mount a test left behind (the full-disk tests mount tmpfs) must not fail the run: say what is left.
      console.warn(`could not remove the test run's temporary folder ${root}: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
}
