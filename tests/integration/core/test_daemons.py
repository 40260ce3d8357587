"""Server processes started by ``core.daemons`` with real children."""

from __future__ import annotations

import gc
import sys
import warnings
from pathlib import Path

import pytest

from core import daemons
from core.errors import InfrastructureError
from core.processes import is_running, terminate

pytestmark = pytest.mark.integration

SLEEPER = (sys.executable, "-c", "import time; time.sleep(60)")


def test_on_spawn_gets_the_record_of_the_running_process_before_spawn_returns(tmp_path: Path) -> None:
    """The caller can write the record to its state file before anything else can happen."""
    seen: list[bool] = []
    process, record = daemons.spawn("sleeper", SLEEPER, 0, tmp_path / "sleeper.log", InfrastructureError,
                                    on_spawn=lambda r: seen.append(is_running(r)))
    try:
        assert seen == [True]
        assert record.pid == process.pid
    finally:
        terminate(record, 5.0)
        daemons.reap(process)


@pytest.mark.parametrize("stopped", [True, False], ids=["reaped by pid elsewhere", "still running"])
def test_a_dropped_server_handle_never_warns(tmp_path: Path, stopped: bool) -> None:
    """Servers outlive their handle by design ('harness up' exits; 'harness down' stops and reaps them
    by PID), so dropping the handle is not a leak and must not raise ResourceWarning."""
    process, record = daemons.spawn("sleeper", SLEEPER, 0, tmp_path / "sleeper.log", InfrastructureError)
    if stopped:
        terminate(record, 5.0)  # waitpid on the PID, behind the handle's back
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            del process
            gc.collect()
        assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
    finally:
        terminate(record, 5.0)
    assert not is_running(record)
