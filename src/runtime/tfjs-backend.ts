import type { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import type { ProgressListener } from '../core/progress.js';

/** The tfjs backends Graft runs on in Node: wasm (~18-50 img/s) or the pure-JS cpu fallback (~1 img/s). */
export type TfjsBackendName = 'wasm' | 'cpu';

/** What {@link ensureTfjsBackend} chose, and why when it had to fall back. */
export interface TfjsBackendChoice {
  readonly backend: TfjsBackendName;
  /** Set when wasm could not start: the error it gave. The caller decides how loudly to report it. */
  readonly fallbackReason?: string;
}

/**
 * The one piece of module state in Graft, on purpose: it mirrors tfjs's own process-wide backend (`tf.setBackend`
 * is global), so that the choice, and the reason for a fallback, is made once however many callers ask.
 */
let pending: Promise<TfjsBackendChoice> | undefined;

/**
 * Selects the tfjs backend once per process: wasm first, cpu only if wasm cannot start.
 *
 * Why wasm: tfjs-node cannot be installed offline and pure-JS cpu is ~20x slower (ARCHITECTURE.md).
 * The wasm binaries are located with `require.resolve`, so this works from `src/` under vitest and
 * from `dist/` alike. A fallback is never silent: the reason is returned in `fallbackReason`
 * (see {@link ensureTfjsBackendChoice}) and passed to `onFallback`.
 *
 * @param onFallback - called with the reason when wasm failed and cpu was chosen. Defaults to none;
 *   callers that have a progress/event channel should report it there.
 * @returns the backend now active.
 * @example
 * const backend = await ensureTfjsBackend();   // 'wasm'
 */
export async function ensureTfjsBackend(onFallback?: (reason: string) => void): Promise<TfjsBackendName> {
  const choice = await ensureTfjsBackendChoice();
  if (choice.fallbackReason !== undefined) onFallback?.(choice.fallbackReason);
  return choice.backend;
}

/** Like {@link ensureTfjsBackend} but returns the fallback reason with the choice. */
export async function ensureTfjsBackendChoice(): Promise<TfjsBackendChoice> {
  // tfjs's backend is process-global state; selecting it once (and memoising the promise) keeps two
  // concurrent callers from racing `setBackend`.
  pending ??= selectBackend();
  const choice = await pending;
  // Someone may have switched backends since (tests do); put ours back rather than report a stale one.
  if (tf.getBackend() !== choice.backend) await tf.setBackend(choice.backend);
  return choice;
}

async function selectBackend(): Promise<TfjsBackendChoice> {
  let reason: string;
  try {
    const require = createRequire(import.meta.url);
    const wasmDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
    // setWasmPaths wants a prefix ending in '/', to which it appends the .wasm file names.
    setWasmPaths(`${wasmDir}/`);
    const isStarted = await withoutAddedCrashHandlers(async () => {
      if (!(await tf.setBackend('wasm'))) return false;
      await tf.ready();
      return true;
    });
    if (isStarted) return { backend: 'wasm' };
    reason = 'tf.setBackend("wasm") returned false';
  } catch (error) {
    reason = error instanceof Error ? error.message : String(error);
  }
  await tf.setBackend('cpu');
  await tf.ready();
  return { backend: 'cpu', fallbackReason: `tfjs wasm backend unavailable (${reason}); using the pure-JS cpu backend, ~20x slower` };
}

/**
 * Runs `start`, then removes the `uncaughtException` and `unhandledRejection` listeners it added. The wasm backend's
 * Emscripten module adds two that rethrow, which would end the whole process (exit 7, a stack in tfjs) at the first
 * stray error anywhere in it, even where the program has handlers of its own: a server stays up through its errors.
 */
async function withoutAddedCrashHandlers<T>(start: () => Promise<T>): Promise<T> {
  // As a plain emitter: Process's overloads take one event name at a time.
  const emitter: EventEmitter = process;
  const events = ['uncaughtException', 'unhandledRejection'];
  const before = events.map((event) => new Set(emitter.listeners(event)));
  try {
    return await start();
  } finally {
    events.forEach((event, i) => {
      for (const listener of emitter.listeners(event)) if (!before[i]!.has(listener)) emitter.removeListener(event, listener as (...args: unknown[]) => void);
    });
  }
}

/**
 * An `onFallback` for {@link ensureTfjsBackend} that reports the fallback as a typed `warning` event, so that the
 * ~20x slower path is never taken silently.
 * @example
 * await ensureTfjsBackend(warnOnFallback(options.onProgress));
 */
export function warnOnFallback(onProgress: ProgressListener | undefined): (reason: string) => void {
  return (reason) => onProgress?.({ type: 'warning', code: 'TFJS_CPU_FALLBACK', message: reason });
}
