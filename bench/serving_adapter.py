"""The serving benchmark's adapter: a scikit-learn model scored one row per call, unbatched and
batched, a cached pure function, and a tool that takes a set time (tenant fairness)."""

import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from snakepit_bridge import Batch, Cache, tool

_rng = np.random.default_rng(0)
_X = _rng.normal(size=(2000, 16))
_MODEL = LogisticRegression().fit(_X, (_X[:, 0] + _X[:, 1] > 0).astype(int))


@tool
def predict_one(x: list) -> int:
    """One row in, one class out: a model call per request."""
    return int(_MODEL.predict(np.asarray([x]))[0])


@tool(batch=Batch(max_size=256, max_wait_ms=2))
def predict(items: list) -> list:
    """The same model, one call for a batch of requests."""
    return [int(v) for v in _MODEL.predict(np.asarray([item["x"] for item in items]))]


@tool(cache=Cache(ttl_s=600, max_entries=10_000))
def lookup(key: str) -> dict:
    return {"key": key, "value": len(key)}


@tool
def echo(value=None):
    return value


@tool
def sleep(ms: float) -> None:
    time.sleep(ms / 1000)
