"""The engine's pytest plugin: gives steps the run, brackets each scenario, records each step.

    before scenario: a ScenarioRun with its own fault session and records directory
    each step:       timed and journaled; a failing Then is "failed", anything else raising is "error"
    after scenario:  (in pytest-bdd's finally) stop load, revert faults, reset the system, keep results

Registered as an object with ``pytest.main(plugins=[...])``, so it holds the run without globals.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from core.journal import Journal

from .context import RunContext, ScenarioFailed, ScenarioRun
from .outcome import Outcome
from .records import FaultWindow
from .results import ScenarioResult, StepResult, scenario_seed
from faults.session import FaultSession


class EnginePlugin:
    def __init__(self, context: RunContext, records_root: Path) -> None:
        self.context = context
        self.records_root = records_root
        self.results: list[ScenarioResult] = []
        self._current: ScenarioResult | None = None
        self._step: StepResult | None = None

    @pytest.fixture
    def run(self) -> RunContext:
        """The run's shared context (system, observer, load, the current scenario)."""
        return self.context

    # -- scenarios ---------------------------------------------------------------------------------

    def pytest_bdd_before_scenario(self, request: Any, feature: Any, scenario: Any) -> None:
        ctx = self.context
        index = len(self.results) + 1
        path = str(feature.filename)
        attempt = 1 + sum(r.path == path and r.line == scenario.line_number for r in self.results)
        seed = scenario_seed(ctx.options.seed, attempt)
        result = ScenarioResult(scenario.name, feature.name, path, scenario.line_number,
                                sorted(scenario.tags | feature.tags), time.monotonic(), time.time(),
                                attempt=attempt, seed=seed)
        self.results.append(result)
        self._current = result
        faults = FaultSession(ctx.system.injectors(), ctx.journal)
        faults.__enter__()
        records_dir = self.records_root / f"{index:02d}"
        ctx.begin(ScenarioRun(scenario.name, feature.name, result.started, faults, records_dir, seed=seed))
        ctx.journal.record("scenario_started", name=scenario.name, feature=feature.name, index=index,
                           attempt=attempt, seed=seed)

    def pytest_bdd_after_scenario(self, request: Any, feature: Any, scenario: Any) -> None:
        ctx, result = self.context, self._current
        if result is None or ctx.scenario is None:
            return
        run = ctx.scenario
        errors: list[str] = []
        # A Ctrl-C or SIGTERM while the load stops must not skip the reverts: it is held until the
        # faults are reverted and the scenario's result is kept, then raised again.
        interrupt: BaseException | None = None
        try:
            ctx.stop_load()
        except Exception as exc:  # keep tearing down; the error is reported with the scenario
            errors.append(f"stopping load: {exc}")
        except BaseException as exc:
            interrupt = exc
        try:
            run.faults.__exit__(None, None, None)
        except Exception as exc:
            errors.append(str(exc))
        except BaseException as exc:
            interrupt = interrupt or exc
        result.finished = time.monotonic()
        result.verdicts = list(run.verdicts)
        result.marks = dict(run.marks)
        result.records = ctx.records()
        result.samples = ctx.observer.samples(since=result.started)
        result.faults = _fault_windows(ctx.journal, result.started, result.finished)
        if self._step is not None:  # a step began and neither finished nor failed: interrupted
            self._finish_step(Outcome.INTERRUPTED, "interrupted")
            result.outcome = Outcome.INTERRUPTED
        elif interrupt is not None:
            result.outcome = Outcome.INTERRUPTED
        elif result.outcome is Outcome.RUNNING:
            result.outcome = Outcome.PASSED
        if errors:
            result.outcome = Outcome.ERROR
            result.message = "; ".join(errors) if result.message is None else result.message
        ctx.journal.record("scenario_finished", name=scenario.name, outcome=result.outcome,
                           duration_s=round(result.duration_s, 3), message=result.message)
        ctx.scenario = None
        if interrupt is not None:
            raise interrupt

    # -- steps -------------------------------------------------------------------------------------

    def pytest_bdd_before_step(self, request: Any, feature: Any, scenario: Any, step: Any, step_func: Any) -> None:
        self._step = StepResult(step.keyword.strip(), step.name, step.line_number, time.monotonic())
        if self._current is not None:
            self._current.steps.append(self._step)
        self.context.journal.record("step_started", keyword=step.keyword.strip(), text=step.name, line=step.line_number)

    def pytest_bdd_after_step(self, request: Any, feature: Any, scenario: Any, step: Any, step_func: Any,
                              step_func_args: Any) -> None:
        self._finish_step(Outcome.PASSED, None)

    def pytest_bdd_step_error(self, request: Any, feature: Any, scenario: Any, step: Any, step_func: Any,
                              step_func_args: Any, exception: BaseException) -> None:
        failed = isinstance(exception, ScenarioFailed)
        status = Outcome.FAILED if failed else Outcome.ERROR
        message = str(exception) if failed else f"{type(exception).__name__}: {exception}"
        self._finish_step(status, message)
        if self._current is not None and self._current.outcome is Outcome.RUNNING:
            self._current.outcome = status
            self._current.message = f"line {step.line_number}: {message}"

    def _finish_step(self, status: Outcome, message: str | None) -> None:
        step = self._step
        if step is None:
            return
        step.duration_s = time.monotonic() - step.started
        step.status, step.message = status, message
        self.context.journal.record("step_finished", text=step.text, status=status,
                                    duration_s=round(step.duration_s, 3), message=message)
        self._step = None


def _fault_windows(journal: Journal, start: float, end: float) -> list[FaultWindow]:
    """Pair each injection with its revert (same kind and target, in order) within the scenario."""
    windows: list[FaultWindow] = []
    for event in journal.events:
        if not start <= event.monotonic <= end:
            continue
        kind, target = str(event.data.get("fault", "")), str(event.data.get("target", ""))
        if event.type == "fault_injected":
            windows.append(FaultWindow(str(event.data.get("label", kind)), kind, target, event.monotonic))
        elif event.type == "fault_reverted":
            for i, w in enumerate(windows):
                if w.end is None and w.kind == kind and w.target == target:
                    windows[i] = FaultWindow(w.label, w.kind, w.target, w.start, event.monotonic)
                    break
    return windows
