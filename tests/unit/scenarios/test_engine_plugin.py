"""The engine plugin's teardown: faults are reverted and the result kept whatever interrupts it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar, cast

import pytest

from core.interrupts import Terminated
from core.journal import Journal
from faults.base import FaultHandle, FaultSpec
from faults.session import FaultSession
from scenarios.context import RunContext, ScenarioRun
from scenarios.plugin import EnginePlugin
from scenarios.results import ScenarioResult


@dataclass(frozen=True)
class Flag(FaultSpec):
    kind: ClassVar[str] = "flag"


class FlagHandle(FaultHandle):
    def __init__(self, spec: FaultSpec, world: dict[str, bool]) -> None:
        super().__init__(spec)
        self._world = world

    def _revert(self) -> None:
        self._world[self.spec.target] = False


class FlagInjector:
    def __init__(self) -> None:
        self.world: dict[str, bool] = {}

    def supports(self, spec: FaultSpec) -> bool:
        return isinstance(spec, Flag)

    def inject(self, spec: FaultSpec) -> FaultHandle:
        self.world[spec.target] = True
        return FlagHandle(spec, self.world)


class InterruptedContext:
    """Just what the teardown touches; stopping the load is interrupted by ``signal``."""

    def __init__(self, scenario: ScenarioRun, signal: BaseException) -> None:
        self.scenario: ScenarioRun | None = scenario
        self.journal = Journal()
        self.observer = SimpleNamespace(samples=lambda since: [])
        self._signal = signal

    def stop_load(self) -> None:
        raise self._signal

    def records(self) -> list[Any]:
        return []


@pytest.mark.parametrize("signal", [KeyboardInterrupt(), Terminated("received signal SIGTERM")],
                         ids=["ctrl-c", "sigterm"])
def test_plugin_interrupt_while_stopping_load_still_reverts_faults(signal: BaseException, tmp_path: Path) -> None:
    """Ctrl-C or SIGTERM while the load stops: every fault reverted, the scenario kept as interrupted, then re-raised."""
    injector = FlagInjector()
    journal = Journal()
    faults = FaultSession([injector], journal).__enter__()
    faults.inject(Flag("vector-db"))
    started = time.monotonic()
    ctx = InterruptedContext(ScenarioRun("s", "f", started, faults, tmp_path), signal)
    plugin = EnginePlugin(cast(RunContext, ctx), tmp_path)
    result = ScenarioResult("s", "f", "x.feature", 3, [], started, time.time())
    plugin.results.append(result)
    plugin._current = result
    with pytest.raises(type(signal)):
        plugin.pytest_bdd_after_scenario(None, None, SimpleNamespace(name="s"))
    assert injector.world == {"vector-db": False}
    assert result.outcome == "interrupted" and result.finished is not None
    assert ctx.scenario is None
