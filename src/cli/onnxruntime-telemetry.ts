/**
 * onnxruntime-node records telemetry unless ORT_DISABLE_TELEMETRY is set when its first session creates its
 * environment: a growing database under ~/.cache/Microsoft/DeveloperTools and an empty /tmp/mat-debug-<pid>.log for
 * every process (measured: 1.30 on Linux). The command line works offline and writes only where it is told, so it
 * sets the variable before any command runs, unless the user set it either way. (The library leaves the process's
 * environment alone: README, "No telemetry".) A module of its own: main.ts loads it before any command, so it
 * must import nothing.
 */
export function turnOffOnnxruntimeTelemetry(): void {
  process.env.ORT_DISABLE_TELEMETRY ??= '1';
}
