"""Tools used by the demo: a plain call, an error, a slow call, CPU work and a generator."""

from __future__ import annotations

import asyncio
import hashlib
import os

from snakepit_bridge import Adapter, Context, tool


class DemoTools(Adapter):
    def setup(self) -> None:
        self.greeting = "hello"

    @tool
    def add(self, a: float, b: float) -> float:
        """Add two numbers."""
        return a + b

    @tool
    def divide(self, a: float, b: float) -> float:
        """Divide a by b (raises ZeroDivisionError for b = 0)."""
        return a / b

    @tool
    async def slow_echo(self, text: str, seconds: float, ctx: Context) -> str:
        """Wait, then echo; cancelled cleanly if the caller's deadline passes."""
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            ctx.log(f"slow_echo({text!r}) cancelled after its deadline")
            raise
        return text

    @tool
    def hash_work(self, rounds: int) -> dict[str, object]:
        """CPU-bound work: repeated SHA-256. Returns the worker pid and the digest."""
        digest = b"snakepit"
        for _ in range(rounds):
            digest = hashlib.sha256(digest).digest()
        return {"pid": os.getpid(), "digest": digest.hex()[:16]}

    @tool
    def words(self, sentence: str):  # type: ignore[no-untyped-def]
        """Yield the words of a sentence one by one."""
        yield from sentence.split()
