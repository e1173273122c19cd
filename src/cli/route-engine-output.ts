import { format } from 'node:util';
import { setOnnxruntimeLogLevel } from '../runtime/ort-session.js';
import type { ServerNotice } from './server-log.js';

/** The console methods a library prints through, and the level each becomes in the log. */
const CONSOLE_LEVELS = { log: 'info', info: 'info', debug: 'info', trace: 'info', warn: 'warning', error: 'error' } as const satisfies Record<string, ServerNotice['level']>;

type ConsoleMethod = keyof typeof CONSOLE_LEVELS;

/**
 * For `--log json`: what the engines print themselves becomes a notice of the log, so that every line on stderr stays
 * one JSON object, and stdout keeps the start-up object alone. tfjs writes through `console` (when its wasm backend
 * cannot start: "Initialization of backend wasm failed", Emscripten's "Aborted(...)", the cpu backend's "Hi, looks
 * like you are running TensorFlow.js in Node.js..."), as does any other library, and Node its own warnings: each is
 * then `{ event: 'console', level, source: 'console.warn', package, message }`, `package` being the one whose code
 * called, when the stack shows it. onnxruntime's native logger writes to fd 2 itself: it is set to print only what
 * precedes a crash ('fatal'); every error it would log also rejects the call, which the log reports. An uncaught
 * exception is a `crash` notice.
 * Process-wide, for good: call it before the server loads any model (onnxruntime reads its level once).
 */
export function routeEngineOutput(notice: (notice: ServerNotice) => void): void {
  setOnnxruntimeLogLevel('fatal');
  for (const method of Object.keys(CONSOLE_LEVELS) as ConsoleMethod[]) {
    console[method] = (...args: unknown[]) => {
      const from = packageOf(new Error().stack);
      notice({ event: 'console', level: CONSOLE_LEVELS[method], source: `console.${method}`, ...(from ? { package: from } : {}), message: format(...args) });
    };
  }
  // An exception nothing caught (a bug, Graft's or a library's) still ends the process at once, as Node would (exit
  // code 1, nothing tidied), but as one object with its stack instead of Node's text; so does a promise rejected with
  // no handler (Node raises it as one, origin 'unhandledRejection').
  process.on('uncaughtException', (error, origin) => {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : format(error);
    notice({ event: 'crash', level: 'error', source: origin, message, ...(error instanceof Error && error.stack ? { stack: error.stack } : {}) });
    process.exit(1);
  });
  // Node prints a process warning (a deprecation, MaxListenersExceeded) as "(node:<pid>) ..." text from its own
  // listener, the only one at start-up (none with --no-warnings): this one takes its place, and heeds
  // --no-deprecation as it did.
  const printers = process.listeners('warning');
  if (printers.length === 0) return;
  for (const listener of printers) process.off('warning', listener);
  process.on('warning', (warning) => {
    if (warning.name === 'DeprecationWarning' && process.noDeprecation) return;
    notice({ event: 'console', level: 'warning', source: 'process.warning', message: `${warning.name}: ${warning.message}` });
  });
}

/**
 * The npm package of the code that called console, from a stack taken in the replacement: its first frame below the
 * replacement itself that runs in a node_modules folder (`@tensorflow/tfjs-core`), if any.
 */
function packageOf(stack: string | undefined): string | undefined {
  const callers = stack?.split('\n').slice(2).join('\n') ?? '';
  return /[\\/]node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)[\\/]/.exec(callers)?.[1]?.replace('\\', '/');
}
