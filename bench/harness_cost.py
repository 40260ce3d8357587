"""What the harness itself costs: the observer's CPU, the fixed work around each scenario, a suite's wall time.

* Observer: the engine polls ``/status`` at 10 Hz for the whole run; its CPU time (this process,
  user + system, from ``getrusage``) over wall time is its share of one core.
* Fixed overhead per scenario: what the engine does around every scenario whatever it tests, done
  here with the same parts: open a fault session, reset the system (toxics, proxies, services), check
  it is normal, start the Locust runner until the first answer arrives, stop it, close the session.
  Compared with a scenario's duration, taken from a suite run.
* Suite wall time: a ``harness run`` in a child process (or a run directory given with
  ``--suite-results``), compared with the CI budget.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from core.errors import UsageError
from core.journal import Journal
from core.settings import PROJECT_ROOT
from faults.session import FaultSession
from scenarios.observer import Observer
from system import ManagedSystem
from system.client import SystemClient

from .locust_load import Load
from .resilience import wait_for


def observer_cpu(client: SystemClient, seconds: float) -> tuple[float, int]:
    """(CPU seconds per wall second, samples taken) of an observer polling at 10 Hz for ``seconds``."""
    observer = Observer(client, Journal(), interval_s=0.1)
    before, started = _cpu_s(), time.monotonic()
    observer.start()
    time.sleep(seconds)
    observer.stop()
    return (_cpu_s() - before) / (time.monotonic() - started), len(observer.samples())


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def scenario_overhead(system: ManagedSystem, client: SystemClient, records_root: Path, users: int,
                      cycles: int) -> float:
    """Median seconds of one scenario's fixed setup and teardown (see the module docstring)."""
    probe = Observer(client, Journal())
    times: list[float] = []
    for cycle in range(cycles):
        started = time.monotonic()
        with FaultSession(system.injectors(), Journal()):
            system.reset()
            wait_for(lambda: probe.sample_now().mode is not None, 30, "the system answering /status")
            with Load(system.entry_url(), records_root / f"overhead-{cycle}", users=users, wait_s=(0.05, 0.2),
                      drain_s=2.0, max_duration_s=120) as load:
                wait_for(lambda: bool(load.records()), 30, "the first answer to the load")
        times.append(time.monotonic() - started)
    return statistics.median(times)


@dataclass(frozen=True)
class SuiteRun:
    """A suite run's wall time and its scenarios' durations."""

    wall_s: float
    durations_s: tuple[float, ...]
    outcome: str
    source: str  # where the figures come from

    @property
    def median_scenario_s(self) -> float | None:
        return statistics.median(self.durations_s) if self.durations_s else None


def suite_from_results(data: Mapping[str, Any], source: str) -> SuiteRun:
    """Wall time (run start to the end of its last scenario) and durations from ``results.json``."""
    scenarios: Sequence[Mapping[str, Any]] = data.get("scenarios") or []
    durations = tuple(float(s["duration_s"]) for s in scenarios if isinstance(s.get("duration_s"), int | float))
    ends = [_wall(s.get("started")) + float(s.get("duration_s", 0.0)) for s in scenarios if _wall(s.get("started"))]
    started = _wall((data.get("run") or {}).get("started"))
    wall = max(ends) - started if ends and started else sum(durations)
    return SuiteRun(wall, durations, str(data.get("outcome", "unknown")), source)


def _wall(text: Any) -> float:
    try:
        return datetime.fromisoformat(str(text)).timestamp()
    except ValueError:
        return 0.0


def read_suite(run_dir: Path) -> SuiteRun:
    """The suite figures of an existing run directory (``--suite-results``)."""
    import json

    path = run_dir / "results.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"--suite-results: cannot read {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("scenarios"), list):
        raise UsageError(f"--suite-results: {path} is not a run's results.json")
    return suite_from_results(data, str(run_dir))


def run_suite(paths: Sequence[Path], out_dir: Path, options: Sequence[str], timeout_s: float) -> SuiteRun:
    """``harness run PATHS --out OUT_DIR OPTIONS...`` in a child process; its wall time as measured here."""
    command = [sys.executable, str(PROJECT_ROOT / "harness.py"), "run", *map(str, paths), "--out", str(out_dir),
               "--seed", "1", *options]
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with (out_dir / "harness-run.log").open("wb") as log:
        subprocess.run(command, cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                       timeout=timeout_s, check=False)
    wall = time.monotonic() - started
    try:
        measured = read_suite(out_dir)
    except UsageError:
        return SuiteRun(wall, (), "error", f"harness run {' '.join(map(str, paths))} (no results.json)")
    return SuiteRun(wall, measured.durations_s, measured.outcome, f"harness run {' '.join(map(str, paths))}")
