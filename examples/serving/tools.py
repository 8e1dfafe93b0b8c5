"""Tools of the serving demo: a token stream and a batched prediction."""

import math
import time

from snakepit_bridge import Batch, Cache, tool


@tool
def generate(prompt: str, delay_ms: int = 80):
    """Streams a made-up reply to `prompt`, one word at a time."""
    words = f"You said: {prompt}. Here is a reply streamed from a Python generator, word by word.".split()
    for word in words:
        time.sleep(delay_ms / 1000)
        yield word


@tool(batch=Batch(max_size=32, max_wait_ms=5))
def predict(items: list) -> list:
    """Scores each call's `x` with a logistic model; concurrent calls arrive here as one batch."""
    return [{"score": 1 / (1 + math.exp(-item["x"])), "batch": len(items)} for item in items]


@tool(cache=Cache(ttl_s=60, max_entries=1000))
def fib(n: int) -> int:
    """A pure function: answered from the host's cache when called again."""
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a
