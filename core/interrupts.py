"""Turning SIGTERM into an exception, and keeping signals out of cleanup code.

Python raises ``KeyboardInterrupt`` on Ctrl-C, which unwinds ``finally`` blocks; SIGTERM (what CI
runners and ``kill`` send) terminates without running any of them. ``sigterm_raises()`` makes SIGTERM
raise ``Terminated`` so fault reverts in ``finally`` run on both. ``shielded()`` defers both signals
while cleanup runs, so a second Ctrl-C cannot abandon a half-reverted fault; they are re-delivered after.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived. A KeyboardInterrupt, so everything that handles Ctrl-C (pytest's session,
    ``finally`` blocks, ``except Exception`` letting it pass) handles SIGTERM the same way."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated(f"received signal {signal.Signals(signum).name}")


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within the block (main thread only), SIGTERM raises ``Terminated``."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def shielded() -> Iterator[None]:
    """Block SIGINT and SIGTERM for the block; pending ones are delivered when it ends."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    blocked = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
