"""Writes a pickled scikit-learn forest of about the size asked (MB) to the path given: the model
the fork-server benchmark loads once in the zygote (setupInZygote) or once per spawned worker."""

import pickle
import sys

import numpy as np
from sklearn.ensemble import ExtraTreesClassifier

path, target_mb = sys.argv[1], float(sys.argv[2])
rng = np.random.default_rng(0)
x = rng.random((20000, 16), dtype=np.float32)
y = rng.integers(0, 2, 20000)
# Fully grown trees on random labels: about 1.6 MB each.
trees = max(1, round(target_mb / 1.57))
model = ExtraTreesClassifier(n_estimators=trees, n_jobs=1, random_state=0).fit(x, y)
with open(path, "wb") as f:
    pickle.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL)
print(len(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)))
