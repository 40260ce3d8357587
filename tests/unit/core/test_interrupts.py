"""Signals during cleanup: held until the block ends, then raised once, whichever thread received them."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from core.interrupts import Terminated, shielded, sigterm_raises


def test_shielded_holds_ctrl_c_until_the_block_ends_even_with_other_threads() -> None:
    """A SIGINT sent inside the block does not interrupt it; KeyboardInterrupt comes after, once."""
    release = threading.Event()
    worker = threading.Thread(target=release.wait, daemon=True)
    worker.start()
    reached = []
    try:
        with pytest.raises(KeyboardInterrupt):
            with shielded():
                os.kill(os.getpid(), signal.SIGINT)
                os.kill(os.getpid(), signal.SIGINT)
                sum(range(200_000))  # loops check for pending handlers: an unshielded one would run here
                reached.append("end of block")
    finally:
        release.set()
        worker.join()
    assert reached == ["end of block"]


def test_nested_shields_pass_sigterm_out_to_the_outermost_handler() -> None:
    """Inside sigterm_raises, a SIGTERM in a nested shield surfaces as Terminated after the outer block."""
    steps = []
    with sigterm_raises():
        with pytest.raises(Terminated):
            with shielded():
                with shielded():
                    os.kill(os.getpid(), signal.SIGTERM)
                    steps.append("inner")
                steps.append("outer")
    assert steps == ["inner", "outer"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
