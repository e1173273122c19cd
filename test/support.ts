import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { channelAffine, makePreprocessing, type Scale } from '../src/core/preprocessing.js';

/** Shared test helpers: where the real models and datasets are, temp folders, and running the built CLI. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const sharedDir = resolve(process.env.GRAFT_SHARED_DIR ?? join(repoRoot, '../shared'));
export const int8Model = join(sharedDir, 'models/mobilenetv2-int8-onnx/mobilenetv2-12-int8.onnx');
export const int8FeatModel = join(sharedDir, 'models/mobilenetv2-int8-onnx/mobilenetv2-12-int8-feat.onnx');
export const hymenoptera = join(sharedDir, 'datasets/hymenoptera');
export const hasShared = existsSync(int8Model) && existsSync(join(hymenoptera, 'train'));

/**
 * Where onnxruntime-node ships its native binding (Linux and Windows on x64 and arm64, macOS on arm64: the bin/napi-v6 folders of the package): there the native GEMM must
 * load, so its tests run, and fail, rather than skip themselves when the code under test breaks.
 */
export const expectsNativeGemm = (process.platform === 'linux' && ['x64', 'arm64'].includes(process.arch)) || (process.platform === 'win32' && ['x64', 'arm64'].includes(process.arch)) || (process.platform === 'darwin' && process.arch === 'arm64');

/** Logs once why a suite is skipped, so a run without ../shared says so instead of passing silently. */
export function skipReason(what: string): string {
  const reason = `skipping ${what}: ${sharedDir} has no models/datasets (set GRAFT_SHARED_DIR)`;
  if (!hasShared) console.warn(reason);
  return reason;
}

export async function tempDir(prefix = 'graft-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Copies the first `perClass` files of each class of `src` (sorted) into `dest`, plus any extra files given. */
export async function copySubset(src: string, dest: string, perClass: number): Promise<string> {
  for (const label of (await readdir(src)).sort()) {
    const files = (await readdir(join(src, label))).filter((f) => f.endsWith('.jpg')).sort().slice(0, perClass);
    await mkdir(join(dest, label), { recursive: true });
    for (const f of files) await cp(join(src, label, f), join(dest, label, f));
  }
  return dest;
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the built CLI (dist/, made by `npm test`'s build step) as a user would, with its own cache folder.
 * `nodeArgs` go to Node before the script (e.g. `--import` of a test preload); `stdin` is piped in.
 */
export function runCli(args: string[], env: Record<string, string> = {}, nodeArgs: string[] = [], stdin?: Uint8Array): Promise<CliRun> {
  return new Promise((resolvePromise) => {
    const child = execFile(process.execPath, [...nodeArgs, join(repoRoot, 'bin/graft.js'), ...args], { env: { ...process.env, ...env }, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolvePromise({ code, stdout, stderr });
    });
    // `stdin`: what is piped in (`curl ... | graft predict model -`); else standard input is closed at once.
    child.stdin?.end(stdin);
  });
}

/** Parses stdout as the single JSON value --json promises (fails the test if there is anything else). */
export function parseJsonOutput<T>(run: CliRun): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    throw new Error(`stdout is not one JSON value (exit ${run.code}):\n${run.stdout}\nstderr:\n${run.stderr}`);
  }
}

/**
 * `count` real hymenoptera val photos, evenly spread over the sorted list, resized to `size` and scaled as NHWC
 * floats; seeded noise in the same range when ../shared is absent, so exporter tests always run.
 */
export async function loadImageBatch(scale: Scale, options: { size?: number; count?: number; fit?: 'cover' | 'fill' } = {}): Promise<Float32Array> {
  const { size = 224, count = 4, fit = 'cover' } = options;
  const imageDir = join(hymenoptera, 'val');
  const out = new Float32Array(count * size * size * 3);
  const { mul, add } = channelAffine(makePreprocessing({ inputSize: size, scale, layout: 'nhwc' }));
  if (!existsSync(imageDir)) {
    let seed = 1;
    for (let i = 0; i < out.length; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      out[i] = (seed % 256) * mul[i % 3]! + add[i % 3]!;
    }
    return out;
  }
  const files = readdirSync(imageDir)
    .flatMap((cls) => readdirSync(join(imageDir, cls)).map((f) => join(imageDir, cls, f)))
    .filter((f) => /\.jpe?g$/i.test(f))
    .sort()
    .filter((_f, i, all) => i % Math.floor(all.length / count) === 0)
    .slice(0, count);
  for (const [n, file] of files.entries()) {
    const rgb = await sharp(file).resize(size, size, { fit }).removeAlpha().raw().toBuffer();
    for (let i = 0; i < rgb.length; i++) out[n * rgb.length + i] = rgb[i]! * mul[i % 3]! + add[i % 3]!;
  }
  return out;
}
