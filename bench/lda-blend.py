# Shrinkage LDA, and LDA averaged with the linear head, on Graft's own two-scale features (RESULTS.md, "What the recipe
# is", item 13; not kept). Reads the views bench/multi-crop.mjs dumps (its --cache folder): rows [0.875 crop | whole]
# and their mirror images, as `graft train` builds them. Each head trains on plain and mirror rows and averages the two
# at test (the default's choice in 27 of 30 runs); C (grid of 1e-3..10) and the shrinkage ('auto' is Ledoit-Wolf, or
# 0.2..0.9) are chosen by 5-fold CV log-loss on train (grouped by track for gtsrb43), the test folder scored once.
# `pick` is what CV log-loss would choose among the linear head, LDA and their average.
# Usage: node bench/multi-crop.mjs first (for the dumps), then
#   /usr/bin/python3 bench/lda-blend.py <datasets,...> <int8,tm> <seeds,...> >> bench/out/lda-blend.jsonl
import json, os, re, sys, time
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.model_selection import StratifiedKFold, StratifiedGroupKFold

CACHE = os.environ.get('GRAFT_MULTI_CROP_CACHE', '/tmp/graft-multi-crop-cache')
SH = os.path.join(os.environ.get('GRAFT_SHARED_DIR', os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared')), 'datasets')
DIRS = {d: (f'{SH}/{d}/train', f'{SH}/{d}/test' if os.path.isdir(f'{SH}/{d}/test') else f'{SH}/{d}/val') for d in ['hymenoptera','flowers12','dtd10','plantseedlings12','gtsrb43']}
# digits and Fashion-MNIST: the folders bench/digits.mjs and bench/fashion-mnist.mjs write, where they are.
for name, env in [('digits', 'GRAFT_DIGITS_DIR'), ('fashion-mnist-40', 'GRAFT_FASHION_DIR')]:
    if os.environ.get(env): DIRS[name] = (os.environ[env] + '/train', os.environ[env] + '/test')

def listing(d):
    cs = sorted(c for c in os.listdir(d) if os.path.isdir(os.path.join(d, c)))
    files, labels = [], []
    for i, c in enumerate(cs):
        for f in sorted(os.listdir(os.path.join(d, c))):
            files.append(f); labels.append(i)
    return files, np.array(labels)

def load(key):
    meta = json.load(open(f'{CACHE}/{key}.f32.json'))
    a = np.fromfile(f'{CACHE}/{key}.f32', dtype=np.float32).reshape(12, meta['count'], meta['dim'])
    plain = np.concatenate([a[0], a[5]], axis=1)
    mirr = np.concatenate([a[6], a[11]], axis=1)
    return plain.astype(np.float64), mirr.astype(np.float64)

def softmax(z):
    z = z - z.max(1, keepdims=True); e = np.exp(z); return e / e.sum(1, keepdims=True)

class Std:
    def fit(self, X):
        self.m = X.mean(0); self.s = X.std(0); self.s[self.s < 1e-8] = 1; return self
    def __call__(self, X): return (X - self.m) / self.s

def fit_lr(P, M, y, C):
    X = np.vstack([P, M]); yy = np.concatenate([y, y]); st = Std().fit(X)
    lr = LogisticRegression(C=C, max_iter=3000, tol=1e-6)
    lr.fit(st(X), yy)
    return lambda A, B: (lr.predict_proba(st(A)) + lr.predict_proba(st(B))) / 2

def fit_lda(P, M, y, shrink):
    X = np.vstack([P, M]); yy = np.concatenate([y, y]); st = Std().fit(X)
    lda = LinearDiscriminantAnalysis(solver='lsqr', shrinkage=shrink, priors=np.ones(y.max()+1)/(y.max()+1))
    lda.fit(st(X), yy)
    return lambda A, B: (lda.predict_proba(st(A)) + lda.predict_proba(st(B))) / 2

CS = [10 ** (e / 2) for e in range(-6, 3)]
SH_GRID = ['auto', 0.2, 0.4, 0.6, 0.8, 0.9]

def run(ds, bb, seed):
    trf, ytr = listing(DIRS[ds][0]); tef, yte = listing(DIRS[ds][1])
    P, M = load(f'{ds}-{bb}-train'); TP, TM = load(f'{ds}-{bb}-test')
    assert len(P) == len(ytr) and len(TP) == len(yte), (ds, len(P), len(ytr))
    k = min(5, np.bincount(ytr).min())
    if ds == 'gtsrb43':
        groups = [re.match(r'^(\d+_\d+)_', f).group(1) for f in trf]
        folds = list(StratifiedGroupKFold(k, shuffle=True, random_state=seed).split(P, ytr, groups))
    else:
        folds = list(StratifiedKFold(k, shuffle=True, random_state=seed).split(P, ytr))
    def cv(maker, arg):
        oof = np.zeros((len(ytr), ytr.max() + 1))
        for tr, va in folds:
            f = maker(P[tr], M[tr], ytr[tr], arg); oof[va] = f(P[va], M[va])
        return -np.mean(np.log(np.clip(oof[np.arange(len(ytr)), ytr], 1e-12, 1))), oof
    res = {'dataset': ds, 'backbone': bb, 'seed': seed}
    best = {}
    for name, maker, grid in [('lr', fit_lr, CS), ('lda', fit_lda, SH_GRID)]:
        scores = [(cv(maker, g), g) for g in grid]
        (ll, oof), g = min(scores, key=lambda s: s[0][0])
        best[name] = (ll, oof, g, maker)
        res[f'{name}_cv'] = [round(s[0][0], 4) for s in scores]
    # ensemble oof
    ens_oof = (best['lr'][1] + best['lda'][1]) / 2
    ens_ll = -np.mean(np.log(np.clip(ens_oof[np.arange(len(ytr)), ytr], 1e-12, 1)))
    probs = {}
    for name in ['lr', 'lda']:
        ll, oof, g, maker = best[name]
        probs[name] = maker(P, M, ytr, g)(TP, TM)
        res[name] = float((probs[name].argmax(1) == yte).mean()); res[name + '_arg'] = g; res[name + '_ll'] = round(ll, 4)
    probs['ens'] = (probs['lr'] + probs['lda']) / 2
    res['ens'] = float((probs['ens'].argmax(1) == yte).mean()); res['ens_ll'] = round(ens_ll, 4)
    lls = {'lr': best['lr'][0], 'lda': best['lda'][0], 'ens': ens_ll}
    pick = min(lls, key=lls.get); res['pick'] = pick; res['picked'] = res[pick]
    return res

if __name__ == '__main__':
    dss = sys.argv[1].split(','); bbs = sys.argv[2].split(','); seeds = [int(s) for s in sys.argv[3].split(',')]
    for ds in dss:
        for bb in bbs:
            for s in seeds:
                t = time.time(); r = run(ds, bb, s); r['s'] = round(time.time() - t, 1)
                print(json.dumps(r), flush=True)
