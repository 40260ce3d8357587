"""Helpers shared by test modules (not fixtures): waiting on conditions."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest


T = TypeVar("T")


def wait_until(probe: Callable[[], T | None], timeout_s: float, what: str, interval_s: float = 0.05) -> T:
    """Poll ``probe`` until it returns something truthy; fail the test naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval_s)
    pytest.fail(f"timed out after {timeout_s}s waiting for {what} (last: {last!r})")
