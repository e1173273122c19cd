import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, type CliRun } from './support.js';

/**
 * Node flags that hold V8's young generation at Node 20's size (16 MB semi-spaces) in a process whose peak memory is
 * measured. Node 22 and later let it grow to 64 MB when the machine has the memory: short-lived garbage then adds up
 * to ~55 MB to any peak (`graft inspect` of a million rows: 191 MB on Node 24 against 135 MB on Node 20, 133 MB with
 * this flag), whatever Graft holds. The bounds tested are about what Graft holds, so every Node is measured alike.
 */
export const SAME_YOUNG_GENERATION = ['--max-semi-space-size=16'];

/**
 * Runs the built CLI (with {@link SAME_YOUNG_GENERATION}) and samples its peak RSS from /proc every 20 ms (VmHWM: the kernel's own high-water mark, so a
 * short spike between samples is still counted, up to the last sample before exit).
 */
export function runCliWithPeakRss(args: string[], env: Record<string, string> = {}): Promise<CliRun & { peakRssBytes: number }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...SAME_YOUNG_GENERATION, join(repoRoot, 'bin/graft.js'), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let peak = 0;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setInterval(() => {
      try {
        const hwm = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (hwm) peak = Math.max(peak, Number(hwm[1]) * 1024);
      } catch {
        // exited between samples
      }
    }, 20);
    child.on('close', (code) => {
      clearInterval(timer);
      resolve({ code: code ?? 1, stdout, stderr, peakRssBytes: peak });
    });
  });
}
