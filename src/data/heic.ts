import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { RgbPixels } from './bmp.js';

/**
 * HEIC, the format iPhones save photos in. libvips reads the HEIF container but its prebuilt binaries carry no HEVC
 * decoder (a patent matter), so the bytes go to libheif with libde265, built to WebAssembly (heic-decode). It applies
 * the file's rotation and mirroring, so the pixels come out upright, as a phone shows them; alpha is dropped keeping
 * the stored colour (PIL's convert('RGB')).
 *
 * The decoder runs in a worker thread: a 12-megapixel photo takes about a second of CPU, which on the main thread
 * would stall a server's every other request (sharp's decoders run on libuv's pool for the same reason).
 *
 * @param size width and height from the container (sharp's metadata reads it), checked against the limit first.
 * @throws Error 'exceeds pixel limit' over the limit, or a sentence naming what is wrong with the file.
 */
export async function decodeHeic(bytes: Uint8Array, size: { width: number; height: number }, limitInputPixels: number): Promise<RgbPixels> {
  if (size.width * size.height > limitInputPixels) throw new Error('Input image exceeds pixel limit');
  return heicWorker().decode(bytes);
}

/** What the worker answers for one image. */
type Reply = ({ id: number } & RgbPixels) | { id: number; error: string };

// Plain JavaScript, so that it runs as it is under the build and the tests alike; the decoder is required by its
// resolved path, since an evaluated worker resolves modules from the working directory.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
// libheif logs its errors with console.log, and a worker's console is the process's stdout: a damaged HEIC would
// break --json output. Its errors still come back as the rejection below.
for (const name of ['log', 'info', 'warn', 'error', 'debug', 'trace']) console[name] = () => {};
const decode = require(workerData.decoder);
parentPort.on('message', async ({ id, bytes }) => {
  try {
    const { width, height, data: rgba } = await decode({ buffer: bytes });
    // RGBA to RGB here too: on 12 megapixels the loop is ~0.1 s the main thread need not spend.
    const data = new Uint8Array(width * height * 3);
    for (let i = 0, o = 0; o < data.length; i += 4, o += 3) {
      data[o] = rgba[i];
      data[o + 1] = rgba[i + 1];
      data[o + 2] = rgba[i + 2];
    }
    parentPort.postMessage({ id, width, height, data }, [data.buffer]);
  } catch (error) {
    parentPort.postMessage({ id, error: error instanceof Error ? error.message : String(error) });
  }
});
`;

interface HeicWorker {
  decode(bytes: Uint8Array): Promise<RgbPixels>;
}

let shared: HeicWorker | undefined;

/** One worker for the process, started on the first HEIC (compiling the ~8 MB decoder takes ~1.5 s) and never keeping the process alive. */
function heicWorker(): HeicWorker {
  if (shared) return shared;
  // execArgv: [] so that the source runs as CommonJS even in a process started with --input-type=module.
  const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], workerData: { decoder: createRequire(import.meta.url).resolve('heic-decode') } });
  worker.unref();
  const pending = new Map<number, { resolve: (value: RgbPixels) => void; reject: (error: Error) => void }>();
  let nextId = 0;
  const fail = (error: Error): void => {
    // A worker that died takes its images with it; the next HEIC starts a new one.
    if (shared === self) shared = undefined;
    for (const { reject } of pending.values()) reject(error);
    pending.clear();
  };
  worker.on('message', (reply: Reply) => {
    const waiting = pending.get(reply.id);
    pending.delete(reply.id);
    if (pending.size === 0) worker.unref();
    if ('error' in reply) waiting?.reject(new Error(`libheif cannot decode it (${reply.error})`));
    else waiting?.resolve(reply);
  });
  worker.on('error', (error) => fail(new Error(`the HEIC decoder stopped (${error.message})`)));
  worker.on('exit', (code) => fail(new Error(`the HEIC decoder exited (code ${code})`)));
  const self: HeicWorker = {
    decode(bytes) {
      return new Promise((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        // Held while images are out, so that a process awaiting one does not exit under it.
        worker.ref();
        // A copy is handed over: the caller's buffer stays whole (it is hashed, and augmented views decode it again).
        const copy = new Uint8Array(bytes);
        worker.postMessage({ id, bytes: copy }, [copy.buffer]);
      });
    },
  };
  shared = self;
  return self;
}
