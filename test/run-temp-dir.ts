import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Set while a run's folder exists: each project of the config runs the global setup again, in the same process. */
const RUN_TMPDIR = 'GRAFT_TEST_RUN_TMPDIR';

/**
 * vitest globalSetup: every temporary file of a test run goes under one folder of its own (TMPDIR, which the workers,
 * the CLI processes tests start and Chromium inherit), removed when the run ends. Tests make their folders with
 * `mkdtemp` and few remove them; run after run on one machine they filled its disk (260 feature stores of 212 MB
 * each were found in /tmp). One folder per run, directly in the system's: Chromium puts a socket in TMPDIR, and a
 * socket's path may not pass 107 bytes.
 */
export default function setup(): (() => void) | undefined {
  if (process.env[RUN_TMPDIR] !== undefined) return undefined;
  const before = process.env.TMPDIR;
  const root = mkdtempSync(join(tmpdir(), 'graft-run-'));
  process.env[RUN_TMPDIR] = root;
  process.env.TMPDIR = root;
  return () => {
    delete process.env[RUN_TMPDIR];
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
