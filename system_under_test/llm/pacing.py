"""Model-like latency: a fixed time to the first token plus a cost per generated token.

The extractive generator answers in microseconds; without pacing the service would never queue, and
load scenarios could not show a slow LLM, a filling connection pool or a deadline that runs out.
Waits are ``asyncio.sleep`` so a paced request holds no worker, only its connection, as a real model
server's request would.

A stream follows a schedule anchored at the request's start (not a sleep per chunk), so timer
overshoot does not accumulate and a streamed answer ends when the same non-streamed one would.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass


@dataclass(frozen=True)
class Pacer:
    """The delay policy: ``base_s + tokens * per_token_s``."""

    base_s: float
    per_token_s: float

    @classmethod
    def from_ms(cls, base_ms: float, per_token_ms: float) -> Pacer:
        return cls(base_ms / 1000.0, per_token_ms / 1000.0)

    def delay_s(self, tokens: int) -> float:
        """How long an answer of ``tokens`` tokens takes in total."""
        return self.base_s + tokens * self.per_token_s

    async def wait(self, tokens: int) -> None:
        """Hold a complete answer of ``tokens`` tokens for its whole delay."""
        delay = self.delay_s(tokens)
        if delay > 0:
            await asyncio.sleep(delay)

    def schedule(self) -> Schedule:
        """A schedule for one stream, starting now."""
        return Schedule(self, asyncio.get_running_loop().time())


class Schedule:
    """One stream's progress: when the next chunk of tokens is due."""

    def __init__(self, pacer: Pacer, start: float) -> None:
        self._pacer = pacer
        self._start = start
        self._sent = 0

    async def release(self, tokens: int) -> None:
        """Wait until ``tokens`` more tokens are due (the first call also covers the base delay)."""
        self._sent += tokens
        loop = asyncio.get_running_loop()
        delay = self._start + self._pacer.delay_s(self._sent) - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
