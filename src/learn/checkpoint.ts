import { existsSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { GraftError } from '../core/errors.js';
import { writeFileAtomic } from '../core/atomic-write.js';
import { optionName } from '../core/option-name.js';
import type { EpochLogs } from '../core/progress.js';
import { makeDirectory } from '../core/make-directory.js';

/** Named float32 tensors, as a checkpoint stores them. */
export type TensorTable = ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array }>;

/** What a fine-tuning checkpoint holds: enough to continue the run exactly where the last finished epoch left it. */
export interface Checkpoint {
  /** Hash of everything that decides the run (config, data, backbone, cut); a checkpoint resumes only the same run. */
  readonly fingerprint: string;
  /** Fine-tuning epochs completed (0 = the head phase is done, fine-tuning not started). */
  readonly epoch: number;
  readonly history: readonly EpochLogs[];
  readonly bestEpoch: number;
  readonly bestLoss: number;
  /** The starting weights' loss (epoch 0), which an epoch must beat; null or absent where it was not scored. */
  readonly initialLoss?: number | null;
  /** Current weights (`current/<name>`), the best epoch's (`best/<name>`) and the optimizers' state (`opt/<i>`). */
  readonly tensors: TensorTable;
  /** Anything else the trainer needs back (e.g. the head phase's summary), JSON-serialisable. */
  readonly extra: Readonly<Record<string, unknown>>;
}

const MAGIC = 'GRAFTCK1';

/**
 * Writes a checkpoint as one file: magic, a JSON header, then the tensors' float32 data. Written to a temporary
 * file and renamed, so a process killed mid-write (kill -9) leaves the previous checkpoint intact.
 */
export async function saveCheckpoint(path: string, checkpoint: Checkpoint): Promise<void> {
  await makeDirectory(dirname(path));
  await removeStaleTemporaries(path);
  let offset = 0;
  const entries = [...checkpoint.tensors].map(([name, t]) => {
    const entry = { name, shape: [...t.shape], offset, length: t.data.length };
    offset += t.data.length;
    return entry;
  });
  const header = JSON.stringify({ ...checkpoint, tensors: entries, bestLoss: Number.isFinite(checkpoint.bestLoss) ? checkpoint.bestLoss : null });
  const headerBytes = new TextEncoder().encode(header);
  // The data starts 4-byte aligned so it can be viewed as a Float32Array in place when read.
  const dataStart = align4(MAGIC.length + 4 + headerBytes.length);
  const bytes = new Uint8Array(dataStart + offset * 4);
  bytes.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(bytes.buffer).setUint32(MAGIC.length, headerBytes.length, true);
  bytes.set(headerBytes, MAGIC.length + 4);
  const data = new Float32Array(bytes.buffer, dataStart, offset);
  for (const [i, [, t]] of [...checkpoint.tensors].entries()) data.set(t.data, entries[i]!.offset);
  await writeFileAtomic(path, bytes);
}

/**
 * Reads a checkpoint; undefined when there is none.
 * @throws GraftError INVALID_CHECKPOINT naming the file when it is damaged.
 */
export async function loadCheckpoint(path: string): Promise<Checkpoint | undefined> {
  if (!existsSync(path)) return undefined;
  const file = await readFile(path);
  const bytes = new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
  const damaged = (why: string): GraftError =>
    new GraftError('INVALID_CHECKPOINT', `Checkpoint ${path} is damaged (${why})`, { hint: `delete it to start over: rm "${path}"` });
  if (new TextDecoder().decode(bytes.subarray(0, MAGIC.length)) !== MAGIC) throw damaged('not a Graft checkpoint');
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(MAGIC.length, true);
  let header: Omit<Checkpoint, 'tensors' | 'bestLoss'> & { bestLoss: number | null; tensors: { name: string; shape: number[]; offset: number; length: number }[] };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(MAGIC.length + 4, MAGIC.length + 4 + headerLength))) as typeof header;
  } catch {
    throw damaged('unreadable header');
  }
  const dataStart = align4(MAGIC.length + 4 + headerLength);
  const floats = (bytes.length - dataStart) / 4;
  const total = header.tensors.reduce((n, t) => n + t.length, 0);
  if (!Number.isInteger(floats) || floats !== total) throw damaged(`holds ${floats} values, header says ${total}`);
  const data = new Float32Array(bytes.slice(dataStart).buffer);
  const tensors = new Map(header.tensors.map((t) => [t.name, { shape: t.shape, data: data.subarray(t.offset, t.offset + t.length) }]));
  return { ...header, bestLoss: header.bestLoss ?? Infinity, tensors };
}

/**
 * A checkpoint whose fingerprint is not this run's. The fingerprint hashes the run's whole config, whose keys grow
 * with Graft, so a checkpoint of an interrupted run also stops matching after an upgrade: the message says both.
 */
export function otherRunCheckpoint(path: string): GraftError {
  return new GraftError(
    'INVALID_CHECKPOINT',
    `Checkpoint ${path} belongs to a different run: other data, backbone or options, or a run of an earlier Graft (a checkpoint resumes only with the version that wrote it)`,
    { hint: `run without ${optionName('resume')} to start over (the checkpoint is then replaced), or with the options of the interrupted run` },
  );
}

export async function removeCheckpoint(path: string): Promise<void> {
  await rm(path, { force: true });
  await removeStaleTemporaries(path);
}

/** A process killed while writing leaves `<path>.tmp-<pid>-<random>` behind (the checkpoint itself is intact): tidy those. */
async function removeStaleTemporaries(path: string): Promise<void> {
  const prefix = `${basename(path)}.tmp-`;
  const mine = `${prefix}${process.pid}-`;
  const names = await readdir(dirname(path)).catch(() => [] as string[]);
  await Promise.all(names.filter((n) => n.startsWith(prefix) && !n.startsWith(mine)).map((n) => rm(join(dirname(path), n), { force: true })));
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

/** Where fine-tuning's refit on all training images checkpoints (beside the holdout trial's checkpoint). */
export function refitCheckpointPath(path: string): string {
  return `${path}.refit`;
}

/** Where fine-tuning's second trial (another fifth held out) checkpoints. */
export function againCheckpointPath(path: string): string {
  return `${path}.again`;
}

/** Every checkpoint file a fine-tuning run may write beside `path`: the trial's, the second trial's, the refit's. */
export function checkpointFiles(path: string): string[] {
  return [path, againCheckpointPath(path), refitCheckpointPath(path)];
}
