import { existsSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { copySubset, hasShared, hymenoptera, int8Model, parseJsonOutput, runCli, skipReason, tempDir } from '../support.js';

// onnxruntime-node records telemetry unless ORT_DISABLE_TELEMETRY is set: a database under
// ~/.cache/Microsoft/DeveloperTools and an empty $TMPDIR/mat-debug-<pid>.log for every process. The graft command
// turns it off unless the user has set the variable (README, "No telemetry").
skipReason('the onnxruntime telemetry test');
describe.skipIf(!hasShared)('onnxruntime telemetry under the graft command', () => {
  let root: string;
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('is off: a command that runs the backbone writes no telemetry database under HOME and no mat-debug log', async () => {
    root = await tempDir();
    const [home, tmp] = [join(root, 'home'), join(root, 'tmp')];
    await Promise.all([mkdir(home), mkdir(tmp)]);
    const photos = await copySubset(join(hymenoptera, 'train'), join(root, 'photos'), 1);
    const env = { ...process.env, HOME: home, TMPDIR: tmp, GRAFT_CACHE_DIR: join(root, 'cache') } as Record<string, string>;
    delete env.ORT_DISABLE_TELEMETRY;
    const run = await runCli(['embed', photos, '--backbone', int8Model, '--json'], env);
    expect(run.code, run.stderr).toBe(0);
    expect(parseJsonOutput<{ computed: number }>(run).computed).toBe(2);
    expect(existsSync(join(home, '.cache', 'Microsoft'))).toBe(false);
    expect((await readdir(tmp)).filter((name) => name.startsWith('mat-debug-'))).toEqual([]);
  });
});
