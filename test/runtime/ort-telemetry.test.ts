import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSession } from '../../src/runtime/ort-session.js';
import { hasShared, int8Model, skipReason, tempDir } from '../support.js';

// onnxruntime-node records telemetry unless told not to: a database under ~/.cache/Microsoft/DeveloperTools and an
// empty /tmp/mat-debug-<pid>.log for every process. Graft, which works offline, turns it off unless the user has set
// ORT_DISABLE_TELEMETRY. This file runs in its own process (vitest forks one per file), so the session created here is
// the first onnxruntime environment of the process, created with the environment variables set below.
skipReason('the onnxruntime telemetry test');
describe.skipIf(!hasShared)('onnxruntime telemetry', () => {
  it('is off: creating a session writes no telemetry database under HOME and no mat-debug log', async () => {
    const home = await tempDir();
    const saved = { home: process.env.HOME, telemetry: process.env.ORT_DISABLE_TELEMETRY };
    process.env.HOME = home;
    delete process.env.ORT_DISABLE_TELEMETRY;
    try {
      const session = await createSession(int8Model);
      await session.release();
      expect(existsSync(join(home, '.cache', 'Microsoft'))).toBe(false);
      expect(existsSync(join('/tmp', `mat-debug-${process.pid}.log`))).toBe(false);
      expect(existsSync(join(tmpdir(), `mat-debug-${process.pid}.log`))).toBe(false);
    } finally {
      process.env.HOME = saved.home;
      if (saved.telemetry === undefined) delete process.env.ORT_DISABLE_TELEMETRY;
      else process.env.ORT_DISABLE_TELEMETRY = saved.telemetry;
    }
  });
});
