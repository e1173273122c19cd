# linear_probe.py (../shared/reference), unchanged in what it fits and chooses, that also prints the probe's class for
# every test image, in the dump's order: for paired comparisons with Graft on the same images (bench/paired-probe.mjs).
# usage: /usr/bin/python3 probe-predictions.py <train.json> <test.json>
import json, sys, numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.preprocessing import StandardScaler
from sklearn.pipeline import make_pipeline
tr, te = (json.load(open(p)) for p in sys.argv[1:3])
assert tr['classes'] == te['classes']
Xtr, ytr, Xte, yte = np.array(tr['feats'], np.float32), np.array(tr['labels']), np.array(te['feats'], np.float32), np.array(te['labels'])
pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
g = GridSearchCV(pipe, {'logisticregression__C': np.logspace(-4, 1, 11)}, cv=StratifiedKFold(5, shuffle=True, random_state=0), n_jobs=2)
g.fit(Xtr, ytr)
predicted = g.predict(Xte)
print(json.dumps({'test_accuracy': float((predicted == yte).mean()), 'C': float(g.best_params_['logisticregression__C']), 'labels': [int(y) for y in yte], 'predicted': [int(p) for p in predicted]}))
