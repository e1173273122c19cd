// Do the backbone's own ImageNet scores help a linear head? A catalogue backbone such as the int8 MobileNetV2 is an
// ImageNet classifier: besides the pooled features Graft trains on, it scores 1 000 ImageNet classes (ants, bees,
// daisies, traffic lights...). This runs the reference probe's protocol (../shared/reference: the same dump, the
// same sklearn pipeline, C by 5-fold CV on train only, scored once on the test folder) on the pooled features alone
// and with the ImageNet logits, log-softmax or probabilities appended, for every dataset.
// Usage: node bench/imagenet-logits.mjs [--datasets a,b] [--out out/imagenet-logits.jsonl]
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dumpFeatures, python, referenceBackbones, shared, testDirOf, trainDirOf } from './reference.mjs';

const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);
const datasets = opt('datasets', 'hymenoptera,flowers12,dtd10,plantseedlings12,gtsrb43').split(',');
const outFile = opt('out', 'bench/out/imagenet-logits.jsonl');
mkdirSync('bench/out', { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'graft-logits-'));
const { int8 } = await referenceBackbones(work, ['int8']);
// The whole classifier: its last output is the 1 000 ImageNet logits (the -feat file's is the pooled features).
const classifier = { ...int8, dump: join(shared, 'models/mobilenetv2-int8-onnx/mobilenetv2-12-int8.onnx') };

// linear_probe.py's pipeline, scored on CV log-loss (Graft's criterion), once per feature set.
const probe = join(work, 'probe.py');
writeFileSync(
  probe,
  `import json, sys, numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.preprocessing import StandardScaler
from sklearn.pipeline import make_pipeline
prefix = sys.argv[1]
def load(split):
    f, l = (json.load(open(f'{prefix}-{split}-{kind}.json')) for kind in ('feat', 'logit'))
    assert f['labels'] == l['labels']
    return np.array(f['feats'], np.float32), np.array(l['feats'], np.float32), np.array(f['labels'])
(ftr, ltr, ytr), (fte, lte, yte) = load('train'), load('test')
def log_softmax(z):
    z = z - z.max(1, keepdims=True)
    return z - np.log(np.exp(z).sum(1, keepdims=True))
sets = {
    'features': (ftr, fte),
    'features+logits': (np.hstack([ftr, ltr]), np.hstack([fte, lte])),
    'features+log-softmax': (np.hstack([ftr, log_softmax(ltr)]), np.hstack([fte, log_softmax(lte)])),
    'features+probabilities': (np.hstack([ftr, np.exp(log_softmax(ltr))]), np.hstack([fte, np.exp(log_softmax(lte))])),
    'log-softmax': (log_softmax(ltr), log_softmax(lte)),
}
out = {}
for name, (xtr, xte) in sets.items():
    g = GridSearchCV(make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000)), {'logisticregression__C': np.logspace(-4, 1, 11)},
                     cv=StratifiedKFold(5, shuffle=True, random_state=0), n_jobs=2, scoring='neg_log_loss')
    g.fit(xtr, ytr)
    out[name] = {'test_accuracy': float((g.predict(xte) == yte).mean()), 'cv_log_loss': -float(g.best_score_), 'C': float(g.best_params_['logisticregression__C'])}
print(json.dumps(out))
`,
);

for (const name of datasets) {
  const prefix = join(work, name);
  for (const [split, dir] of [['train', trainDirOf(name)], ['test', testDirOf(name)]]) {
    dumpFeatures(int8, dir, `${prefix}-${split}-feat`);
    dumpFeatures(classifier, dir, `${prefix}-${split}-logit`);
  }
  const scores = JSON.parse(execFileSync(python, [probe, prefix]).toString());
  const line = { date: new Date().toISOString(), dataset: name, backbone: 'int8', scores };
  appendFileSync(outFile, `${JSON.stringify(line)}\n`);
  console.log(name, Object.entries(scores).map(([set, s]) => `${set} ${s.test_accuracy.toFixed(3)} (CV log-loss ${s.cv_log_loss.toFixed(3)})`).join(' | '));
}
