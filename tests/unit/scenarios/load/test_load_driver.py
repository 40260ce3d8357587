"""The load driver's parts that need no runner process: refusals before sending, a harmless stop."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from core.errors import UsageError
from scenarios.load.driver import LoadDriver
from scenarios.load.spec import MAX_USERS, LoadSpec

HOST = "http://127.0.0.1:8000"


def test_driver_set_users_refuses_more_than_the_cap(tmp_path: Path) -> None:
    """A spike beyond the user cap is refused before anything is sent."""
    driver = LoadDriver(LoadSpec(host=HOST), tmp_path)
    with pytest.raises(UsageError, match=str(MAX_USERS)):
        driver.set_users(MAX_USERS + 1)


def test_driver_stop_before_start_is_harmless(tmp_path: Path) -> None:
    """stop() on a driver that never started does nothing, however often it is called."""
    driver = LoadDriver(LoadSpec(host=HOST), tmp_path)
    driver.stop()
    driver.stop()
    assert driver.alive_pids() == []


def test_load_module_does_not_import_locust() -> None:
    """The engine side stays free of Locust and gevent (their import patches the process)."""
    assert "locust" not in sys.modules
    assert "gevent" not in sys.modules
