// A dataset the defaults were never chosen on: scikit-learn's handwritten digits (1 797 greyscale 8 x 8 scans, 10
// classes; shipped inside scikit-learn, so offline). Far from ImageNet's photos, and mirror images are not the same
// digit: a check of the defaults (mirror rows and test-time augmentation included, both chosen by cross-validation)
// where nothing was tuned. The images are written as PNG folders: 40 training images per class (a few hundred in all,
// as a Teachable Machine user has), the other half of the set as the test folder, split once (stratified, seed 0).
// Then, as a user would: `graft train train/ --seed s` and `graft eval model test/`, seeds 1-3, next to the reference
// linear probe (../shared/reference) on the very same images.
// Usage: npm run build && node bench/digits.mjs [--backbones int8,tm] [--seeds 1,2,3] [--crops auto] [--out out/digits.jsonl]
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeAndGraft, python } from './reference.mjs';

const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);
const chosenBackbones = opt('backbones', 'int8,tm').split(',');
const seeds = opt('seeds', '1,2,3').split(',').map(Number);
const outFile = opt('out', 'bench/out/digits.jsonl');
mkdirSync('bench/out', { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'graft-digits-'));

// The folders, written by scikit-learn's own copy of the data (PNG by hand: no imaging package needed).
execFileSync(python, ['-c', `
import numpy as np, os, struct, sys, zlib
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
root = sys.argv[1]
d = load_digits()
x, y = d.images, d.target
train, test = train_test_split(np.arange(len(y)), test_size=0.5, stratify=y, random_state=0)
rng = np.random.RandomState(0)
train = np.concatenate([rng.permutation(train[y[train] == c])[:40] for c in range(10)])
def chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff)
def png(path, image):
    grey = (image / 16 * 255).astype(np.uint8)
    raw = b''.join(b'\\x00' + row.tobytes() for row in grey)
    header = struct.pack('>IIBBBBB', grey.shape[1], grey.shape[0], 8, 0, 0, 0, 0)
    with open(path, 'wb') as f:
        f.write(b'\\x89PNG\\r\\n\\x1a\\n' + chunk(b'IHDR', header) + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
for split, ids in (('train', train), ('test', test)):
    for i in ids:
        folder = os.path.join(root, split, f'digit{y[i]}')
        os.makedirs(folder, exist_ok=True)
        png(os.path.join(folder, f'{i:04d}.png'), x[i])
`, work]);
await probeAndGraft({ dataset: 'sklearn-digits', trainDir: join(work, 'train'), testDir: join(work, 'test'), work, backbones: chosenBackbones, seeds, outFile, trainFlags: opt('crops') ? ['--crops', opt('crops')] : [] });
