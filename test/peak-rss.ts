import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, type CliRun } from './support.js';

/**
 * Runs the built CLI and samples its peak RSS from /proc every 20 ms (VmHWM: the kernel's own high-water mark, so a
 * short spike between samples is still counted, up to the last sample before exit).
 */
export function runCliWithPeakRss(args: string[], env: Record<string, string> = {}): Promise<CliRun & { peakRssBytes: number }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin/graft.js'), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
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
