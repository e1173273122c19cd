/**
 * Whether a process with this id runs on this machine (a lock or working file names its writer by pid; one that is
 * gone, after a kill, left it behind). A process of another user counts as running.
 */
export function isProcessRunning(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}
