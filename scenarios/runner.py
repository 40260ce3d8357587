"""``harness run``: plan the scenarios, bring the system up, run them under pytest-bdd, write results.

    plan (parse features, filter tags, match every step)        -> ConfigError, exit 2, nothing touched
    Prometheus (--monitoring: monitoring.Monitoring, data in out/prometheus) started beside the system
    system up (Toxiproxy, proxies, services; stale faults cleaned) -> InfrastructureError, exit 3
    observer + progress -> pytest.main(generated module, EnginePlugin, step modules as plugins)
    results.json, junit.xml, runs/latest -> exit code from the scenario outcomes

Each selected scenario is bound explicitly with ``pytest_bdd.scenario`` in a generated test module, so
pytest runs exactly the planned scenarios, in plan order.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.errors import UsageError
from core.interrupts import shielded, sigterm_raises
from core.journal import JsonlSink, Journal
from core.settings import HarnessSettings
from core.topology import Topology
from monitoring.session import Monitoring, recorded_running
from system.client import SystemClient

from .context import RunContext, RunOptions, System
from .features import PlannedScenario, check_steps, plan
from .outcome import COUNTED, Outcome
from .plugin import EnginePlugin
from .progress import Progress
from .results import run_metadata, write_results
from .steps import step_modules, vocabulary


@dataclass(frozen=True)
class RunSummary:
    out_dir: Path
    outcome: Outcome
    counts: dict[str, int]
    exit_code: int


def plan_run(options: RunOptions) -> list[PlannedScenario]:
    """The scenarios a run would execute, every step checked against the vocabulary."""
    planned = plan(list(options.features), options.tags)
    if not planned:
        raise UsageError(f"no scenario matches --tags {options.tags!r}" if options.tags else "no scenarios found")
    check_steps(planned, vocabulary())
    return planned


def new_run_dir(root: Path) -> Path:
    """``runs/<UTC timestamp>-<id>``, with ``runs/latest`` pointing at it."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = root / f"{stamp}-{secrets.token_hex(3)}"
    path.mkdir(parents=True)
    latest = root / "latest"
    try:
        if latest.is_symlink() or latest.exists():
            latest.unlink()
        latest.symlink_to(path.name)
    except OSError:
        pass  # a filesystem without symlinks still gets the run directory
    return path


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:60] or "scenario"


def _test_modules(planned: list[PlannedScenario], repeat: int = 1) -> dict[str, str]:
    """One generated test module per feature file (JUnit's class name), one test per scenario run."""
    modules: dict[str, list[str]] = {}
    for i, s in enumerate(planned, 1):
        lines = modules.setdefault(f"test_{_slug(s.path.stem)}.py", ["from pytest_bdd import scenario", ""])
        for attempt in range(1, repeat + 1):
            suffix = f"_run{attempt}" if repeat > 1 else ""
            lines += [f"@scenario({str(s.path.resolve())!r}, {s.name!r})",
                      f"def test_{i:03d}_{_slug(s.name)}{suffix}() -> None:", "    pass", ""]
    return {name: "\n".join(lines) for name, lines in modules.items()}


def run_scenarios(
    options: RunOptions, settings: HarnessSettings, topology: Topology, system_factory: Callable[[], System],
    monitoring_factory: Callable[[Path, Journal], Monitoring] | None = None,
) -> RunSummary:
    """Run the planned scenarios against the system ``system_factory()`` builds; see the module doc.

    With ``monitoring_factory``, a Prometheus (``monitoring.Monitoring``, its folder ``out/prometheus``)
    watches the system from its start to the end of the run; each scenario's alerts go into its results.
    """
    planned = plan_run(options)
    out = options.out_dir
    out.mkdir(parents=True, exist_ok=True)
    journal = Journal()
    sink = JsonlSink(out / "journal.jsonl")
    journal.subscribe(sink)
    meta = {**run_metadata(options.seed, options.backend, str(topology.path), settings.project_root),
            "repeat": options.repeat, "replay": options.replay}
    system = system_factory()
    plugin: EnginePlugin | None = None
    outcome = Outcome.ERROR
    was_up = True
    monitoring: Monitoring | None = None
    keep_monitoring = False  # a Prometheus from 'harness up --monitoring' was running: leave ours running
    # SIGTERM raises (like Ctrl-C) from before the system starts until the last cleanup; the cleanup
    # itself holds both signals, so one arriving while the system stops is delivered only after it.
    with sigterm_raises():
        try:
            was_up = system.is_up()
            if monitoring_factory is not None:  # started first: its start-up overlaps the system's
                keep_monitoring = was_up and recorded_running(settings)
                monitoring = monitoring_factory(out / "prometheus", journal)
                for action in monitoring.start():
                    journal.record("cleaned", action=action)
            system.up()
            context = RunContext(options, system, journal, SystemClient.for_entry(system.topology, settings),
                                 SystemClient.for_entry(system.topology, settings))
            if monitoring is not None:
                monitoring.wait_scraped()
                context.monitoring = monitoring
            context.observer.start()
            plugin = EnginePlugin(context, out / "records")
            progress = Progress(context, len(planned) * options.repeat)
            progress.start()
            try:
                code = _pytest(planned, plugin, out, options)
            finally:
                progress.stop()
                context.stop_load()
                context.observer.stop()
                context.client.close()
                context.observer_client.close()
            outcome = _outcome(plugin, code)
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM outside a scenario (start-up): results say so
            outcome = Outcome.INTERRUPTED
            raise
        finally:
            with shielded():
                results = plugin.results if plugin else []
                if monitoring is not None:
                    for result in results:
                        result.alerts = monitoring.timeline.intervals(result.started, result.finished or time.monotonic())
                    if keep_monitoring:
                        monitoring.detach()
                    else:
                        monitoring.stop()
                write_results(out / "results.json", meta, outcome, results, [e.to_json() for e in journal.events])
                sink.close()
                if not was_up:
                    system.down()  # leave the machine as the run found it
                system.close()
    counts = {str(k): sum(r.outcome == k for r in results) for k in COUNTED}
    return RunSummary(out, outcome, counts, int(outcome.exit_code))


def _pytest(planned: list[PlannedScenario], plugin: EnginePlugin, out: Path, options: RunOptions) -> int:
    work = out / ".pytest"
    work.mkdir(parents=True, exist_ok=True)
    (work / "pytest.ini").write_text("[pytest]\naddopts =\nfilterwarnings =\n")
    modules = _test_modules(planned, options.repeat)
    for name, text in modules.items():
        (work / name).write_text(text)
    junit = options.junit or out / "junit.xml"
    args = [*(str(work / name) for name in modules), "-c", str(work / "pytest.ini"), "--rootdir", str(work),
            "-p", "no:cacheprovider", "-p", "no:terminal", "-p", "no:asyncio", "-s", "-o", "junit_family=xunit2",
            "-o", "junit_suite_name=harness", f"--junitxml={junit}"]
    for module in step_modules():
        args += ["-p", module.__name__]
    return int(pytest.main(args, plugins=[plugin]))


def _outcome(plugin: EnginePlugin, code: int) -> Outcome:
    if code == pytest.ExitCode.INTERRUPTED:
        for result in plugin.results:
            if result.outcome is Outcome.RUNNING:
                result.outcome = Outcome.INTERRUPTED
        return Outcome.INTERRUPTED
    outcomes = {r.outcome for r in plugin.results}
    if Outcome.FAILED in outcomes:
        return Outcome.FAILED
    if Outcome.ERROR in outcomes or code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        return Outcome.ERROR
    return Outcome.PASSED
