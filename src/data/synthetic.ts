import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { mulberry32, type Random } from '../core/random.js';
import { makeDirectory } from '../core/make-directory.js';

/** The demo dataset's classes. */
export const SYNTHETIC_LABELS = ['circles', 'squares', 'triangles'] as const;
export type SyntheticLabel = (typeof SYNTHETIC_LABELS)[number];

/** Options for {@link writeSyntheticDataset}. */
export interface SyntheticOptions {
  /** Images per class, split about 70/30 into train/ and val/. Defaults to 24. */
  readonly perClass?: number;
  /** Seed: the same seed writes byte-identical files. Defaults to 1. */
  readonly seed?: number;
  /** Image side in pixels. Defaults to 160. */
  readonly size?: number;
}

/** What {@link writeSyntheticDataset} wrote. */
export interface SyntheticDataset {
  readonly root: string;
  readonly trainDir: string;
  readonly valDir: string;
  readonly labels: string[];
  /** Every file written, train first. */
  readonly files: string[];
  readonly trainCount: number;
  readonly valCount: number;
}

/**
 * Writes Graft's self-generated demo dataset: real JPEG (and a few PNG) files of circles, squares and
 * triangles, so demos, docs and tests run without downloading anything.
 *
 * Each image has a gradient background with pixel noise, one to three shapes of its class with random
 * colours, sizes, positions, rotations and fill/outline style, and a few distracting lines. A pretrained
 * backbone separates the classes well but not trivially (colour and position carry no signal).
 * Layout: `dir/train/<class>/*.jpg` and `dir/val/<class>/*.jpg`, about 70/30 per class. Every 5th image is
 * a PNG so both decoders are exercised.
 *
 * @example
 * const ds = await writeSyntheticDataset('/tmp/shapes', { perClass: 24, seed: 1 });
 * ds.trainCount; // 51
 */
export async function writeSyntheticDataset(dir: string, options: SyntheticOptions = {}): Promise<SyntheticDataset> {
  const perClass = options.perClass ?? 24;
  const seed = options.seed ?? 1;
  const size = options.size ?? 160;
  if (!Number.isInteger(perClass) || perClass < 2) throw new RangeError(`perClass must be an integer >= 2. Received: ${perClass}`);
  if (!Number.isInteger(size) || size < 32 || size > 1024) throw new RangeError(`size must be an integer in [32, 1024]. Received: ${size}`);
  const root = resolve(dir);
  const trainDir = join(root, 'train');
  const valDir = join(root, 'val');
  const random = mulberry32(seed);
  const nTrain = Math.min(perClass - 1, Math.max(1, Math.round(perClass * 0.7)));
  const trainFiles: string[] = [];
  const valFiles: string[] = [];
  for (const label of SYNTHETIC_LABELS) {
    await makeDirectory(join(trainDir, label));
    await makeDirectory(join(valDir, label));
  }
  // Classes are interleaved so that the random stream, and therefore each class's variety, does not depend on class order.
  for (let i = 0; i < perClass; i++) {
    for (const label of SYNTHETIC_LABELS) {
      const isPng = i % 5 === 4;
      const name = `${label}_${String(i).padStart(3, '0')}.${isPng ? 'png' : 'jpg'}`;
      const file = join(i < nTrain ? trainDir : valDir, label, name);
      await writeFile(file, await renderImage(label, size, random, isPng));
      (i < nTrain ? trainFiles : valFiles).push(file);
    }
  }
  return {
    root,
    trainDir,
    valDir,
    labels: [...SYNTHETIC_LABELS],
    files: [...trainFiles, ...valFiles],
    trainCount: trainFiles.length,
    valCount: valFiles.length,
  };
}

async function renderImage(label: SyntheticLabel, size: number, random: Random, isPng: boolean): Promise<Buffer> {
  const between = (lo: number, hi: number): number => lo + random() * (hi - lo);
  const colour = (): string => `rgb(${Math.floor(random() * 256)},${Math.floor(random() * 256)},${Math.floor(random() * 256)})`;
  const parts: string[] = [];
  const angle = Math.floor(between(0, 360));
  parts.push(
    `<defs><linearGradient id="bg" gradientTransform="rotate(${angle} 0.5 0.5)"><stop offset="0" stop-color="${colour()}"/><stop offset="1" stop-color="${colour()}"/></linearGradient></defs>`,
    `<rect width="${size}" height="${size}" fill="url(#bg)"/>`,
  );
  const lines = Math.floor(between(1, 4));
  for (let i = 0; i < lines; i++) {
    parts.push(
      `<line x1="${between(0, size)}" y1="${between(0, size)}" x2="${between(0, size)}" y2="${between(0, size)}" stroke="${colour()}" stroke-width="${between(1, 4)}"/>`,
    );
  }
  const shapes = Math.floor(between(1, 4));
  for (let i = 0; i < shapes; i++) {
    const r = between(0.12, 0.3) * size * (shapes > 1 ? 0.75 : 1);
    const cx = between(r, size - r);
    const cy = between(r, size - r);
    const rotation = between(0, 360);
    const isFilled = random() < 0.7;
    const paint = isFilled
      ? `fill="${colour()}"`
      : `fill="none" stroke="${colour()}" stroke-width="${between(3, 7).toFixed(1)}"`;
    const transform = `transform="rotate(${rotation.toFixed(1)} ${cx.toFixed(1)} ${cy.toFixed(1)})"`;
    if (label === 'circles') {
      parts.push(`<circle cx="${cx}" cy="${cy}" r="${r}" ${paint}/>`);
    } else if (label === 'squares') {
      const s = r * 1.6;
      parts.push(`<rect x="${cx - s / 2}" y="${cy - s / 2}" width="${s}" height="${s}" ${paint} ${transform}/>`);
    } else {
      const points = [0, 1, 2]
        .map((k) => {
          const a = -Math.PI / 2 + (k * 2 * Math.PI) / 3;
          return `${(cx + r * 1.2 * Math.cos(a)).toFixed(1)},${(cy + r * 1.2 * Math.sin(a)).toFixed(1)}`;
        })
        .join(' ');
      parts.push(`<polygon points="${points}" ${paint} ${transform}/>`);
    }
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}">${parts.join('')}</svg>`;
  const { data } = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  // Pixel noise, from the seeded stream so files are reproducible: keeps the task from being a clean-edge toy.
  const amplitude = between(8, 28);
  for (let i = 0; i < data.length; i++) {
    data[i] = Math.max(0, Math.min(255, Math.round(data[i]! + (random() * 2 - 1) * amplitude)));
  }
  const image = sharp(data, { raw: { width: size, height: size, channels: 3 } });
  return isPng ? image.png().toBuffer() : image.jpeg({ quality: 88 }).toBuffer();
}
