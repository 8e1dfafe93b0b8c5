"""Benchmark adapter of the fork server: a data-science worker that imports numpy, pandas and
scikit-learn, and (with BENCH_MODEL set) loads a pickled scikit-learn forest in setup()."""

import os
import pickle

import numpy as np
import pandas as pd
import sklearn.ensemble  # noqa: F401 - the import is the point: it is what makes a cold start slow
from snakepit_bridge import Adapter, tool


class DataScience(Adapter):
    def setup(self) -> None:
        self.model = None
        path = os.environ.get("BENCH_MODEL")
        if path:
            with open(path, "rb") as f:
                self.model = pickle.load(f)

    @tool
    def ping(self) -> int:
        return os.getpid()

    @tool
    def describe(self, n: int = 100) -> float:
        frame = pd.DataFrame({"x": np.arange(n, dtype=np.float64)})
        return float(frame["x"].mean())

    @tool
    def predict(self, rows: int = 4) -> list[int]:
        if self.model is None:
            return []
        x = np.random.default_rng(0).random((rows, self.model.n_features_in_), dtype=np.float32)
        return [int(v) for v in self.model.predict(x)]
