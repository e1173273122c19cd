# Tried, not kept (RESULTS "What the recipe is", item 10): the reference probe's linear head blended with a cosine
# k-nearest-neighbour vote over the training images (Tip-Adapter's cache model: each training image votes for its class
# with exp(-beta (1 - cos))), the blend weight alpha and sharpness beta chosen with C by 5-fold CV log-loss on the
# training set (folds grouped by track for gtsrb43), the test set scored once.
# Usage: /usr/bin/python3 bench/knn-blend.py <list>, where each line of <list> is
#   <name> <train dump .json> <test dump .json> <train folder>
# (dumps written by ../shared/reference/dump_features.mjs, as bench/reference-probe.mjs does). One JSON line per
# dataset: test accuracy of the head alone (lr), of the blend, of the kNN vote alone, and both CV log-losses.
import json, sys, os, re, numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, StratifiedGroupKFold
from sklearn.preprocessing import StandardScaler
def load(p):
    d = json.load(open(p)); return np.array(d['feats'], np.float32), np.array(d['labels']), d['classes']
def groups_for(root, classes):
    g = []
    for c in classes:
        for f in sorted(os.listdir(os.path.join(root, c))):
            m = re.match(r'^(\d+_\d+)_', f); g.append(c + '/' + (m.group(1) if m else f))
    return np.array(g)
def softmax(z):
    z = z - z.max(1, keepdims=True); e = np.exp(z); return e / e.sum(1, keepdims=True)
def knn_probs(Ftr, ytr, Fq, K, beta):
    s = Fq @ Ftr.T  # cosine (rows L2-normalised)
    A = np.exp(-beta * (1 - s))
    Y = np.eye(K)[ytr]
    L = A @ Y
    return L / L.sum(1, keepdims=True)
def norm(F): return F / np.linalg.norm(F, axis=1, keepdims=True)
Cs = np.logspace(-4, 1, 11); alphas = [0, 0.1, 0.2, 0.3, 0.5]; betas = [1, 3, 10, 30]
def run(trp, tep, groups=None):
    Xtr, ytr, classes = load(trp); Xte, yte, _ = load(tep); K = len(classes)
    folds = list((StratifiedGroupKFold(5, shuffle=True, random_state=0).split(Xtr, ytr, groups) if groups is not None else StratifiedKFold(5, shuffle=True, random_state=0).split(Xtr, ytr)))
    oof = {C: np.zeros((len(ytr), K)) for C in Cs}
    oofk = {b: np.zeros((len(ytr), K)) for b in betas}
    for tr, va in folds:
        sc = StandardScaler().fit(Xtr[tr]); A, B = sc.transform(Xtr[tr]), sc.transform(Xtr[va])
        for C in Cs:
            oof[C][va] = LogisticRegression(C=C, max_iter=3000).fit(A, ytr[tr]).predict_proba(B)
        An, Bn = norm(A), norm(B)
        for b in betas: oofk[b][va] = knn_probs(An, ytr[tr], Bn, K, b)
    ll = lambda P: -np.mean(np.log(np.clip(P[np.arange(len(ytr)), ytr], 1e-12, 1)))
    bestC = min(Cs, key=lambda C: ll(oof[C]))
    best = min(((a, b) for a in alphas for b in betas), key=lambda ab: ll((1 - ab[0]) * oof[bestC] + ab[0] * oofk[ab[1]]))
    sc = StandardScaler().fit(Xtr); A, B = sc.transform(Xtr), sc.transform(Xte)
    P = LogisticRegression(C=bestC, max_iter=3000).fit(A, ytr).predict_proba(B)
    Pk = knn_probs(norm(A), ytr, norm(B), K, best[1])
    acc = lambda Q: float((Q.argmax(1) == yte).mean())
    return dict(C=bestC, lr=acc(P), alpha=best[0], beta=best[1], blend=acc((1 - best[0]) * P + best[0] * Pk), knn=acc(Pk),
                cv_lr=ll(oof[bestC]), cv_blend=ll((1 - best[0]) * oof[bestC] + best[0] * oofk[best[1]]))
for name, trp, tep, root in [l.split() for l in open(sys.argv[1])]:
    g = groups_for(root, load(trp)[2]) if 'gtsrb' in name else None
    print(name, json.dumps(run(trp, tep, g)), flush=True)
