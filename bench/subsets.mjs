// Training subsets drawn (seeded) from a dataset's train/ folder and linked into a new folder of class sub-folders,
// for the benchmarks that ask how the defaults hold on data shaped unlike the full folders: few images per class
// (few-shot.mjs), classes of very different sizes (imbalanced.mjs).
import { mkdirSync, readdirSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { mulberry32, shuffleInPlace } from '../dist/core/random.js';
import { groupBy } from './reference.mjs';

/** The class sub-folders of `trainDir`, sorted. */
export const classesOf = (trainDir) => readdirSync(trainDir).filter((c) => statSync(join(trainDir, c)).isDirectory()).sort();

/**
 * Links a subset of `trainDir` into `dir`. Each class's files are grouped into tracks (frames of one physical sign
 * where the dataset has a `groupBy` pattern, else one file per track), shuffled, and `pick(classIndex, tracks, next)`
 * returns the files to keep. `salt` separates the draws of different benchmarks and settings with the same seed.
 * Class `cls` goes to the folder `dir/<classFolder(cls)>` (default: its own name).
 */
export function linkSubset(name, trainDir, dir, seed, salt, pick, classFolder = (cls) => cls) {
  const next = mulberry32(seed * 1000 + salt);
  const trackOf = (file) => (groupBy[name] ? (new RegExp(groupBy[name]).exec(file)?.[1] ?? file) : file);
  classesOf(trainDir).forEach((cls, index) => {
    const byTrack = new Map();
    for (const file of readdirSync(join(trainDir, cls)).sort()) {
      const track = trackOf(file);
      byTrack.set(track, [...(byTrack.get(track) ?? []), file]);
    }
    const to = join(dir, classFolder(cls));
    mkdirSync(to, { recursive: true });
    for (const file of pick(index, shuffleInPlace([...byTrack.values()], next), next)) symlinkSync(join(trainDir, cls, file), join(to, file));
  });
  return dir;
}
