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
    """Defer SIGINT and SIGTERM for the block; the ones that arrived are raised again when it ends.

    Python runs signal handlers in the main thread, but the kernel delivers a process signal to any
    thread that does not block it: masking the main thread (``pthread_sigmask``) lets a Ctrl-C in
    through the observer's or the load reader's thread. So the block swaps the Python-level handlers
    for one that only records, restores them at the end and re-raises what it recorded (nested blocks
    pass it outwards; the outermost one reaches the real handler).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []

    def defer(signum: int, frame: FrameType | None) -> None:
        pending.append(signum)

    previous = {sig: signal.signal(sig, defer) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        for signum in dict.fromkeys(pending):  # each signal once, in the order it arrived
            signal.raise_signal(signum)
