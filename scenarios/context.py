"""The state of a run and of the scenario being run, shared by the steps.

    RunContext        one per ``harness run``: options, the system and its client, journal, observer, load, records
    └── ScenarioRun   one per scenario: its fault session, marks ("fault", "start"...), verdicts, answers

Steps are thin: they parse their text and call methods here or library functions; they never print.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from core.errors import HarnessError
from core.journal import Journal
from core.topology import DEFAULT_TOPOLOGY, Topology
from faults.base import FaultHandle, Injector
from faults.session import FaultSession
from system.backend import BackendKind
from system.client import SystemClient

from .assertions import Verdict
from .load.driver import LoadDriver
from .load.readers import RecordReader
from .load.spec import LoadSpec
from .observer import Observer
from .records import RequestRecord

if TYPE_CHECKING:
    from monitoring.session import Monitoring


class ScenarioFailed(AssertionError):
    """An assertion step failed: the system misbehaved (exit code 1)."""

    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict
        super().__init__(verdict.message())


class System(Protocol):
    """A running system under test, whatever runs it (local processes or containers)."""

    topology: Topology

    def entry_url(self) -> str: ...

    def calls_metrics_url(self) -> str | None:
        """Where the calls each dependency received are counted from outside the system (the HTTP
        fault proxy's ``/metrics``); None when no edge goes through it."""

    def injectors(self) -> list[Injector]: ...

    def up(self) -> list[str]:
        """Start what is not running (cleaning stale faults); say what was cleaned."""

    def ensure_up(self) -> None: ...

    def is_up(self) -> bool:
        """Whether every service and the fault proxy already run (then a run leaves them running)."""

    def down(self) -> list[str]:
        """Stop everything; say what was stopped."""

    def reset(self) -> list[str]:
        """Remove every fault (ours or stale), make every service run unpaused; say what was done."""

    def restart_services(self) -> None:
        """Stop and start every service (not the fault proxy): a fresh system for the next scenario."""

    def close(self) -> None:
        """Release clients; the system keeps running."""


@dataclass(frozen=True)
class RunOptions:
    """What ``harness run`` was asked to do; ``replay`` turns it back into a command line."""

    features: tuple[Path, ...]
    out_dir: Path
    tags: str | None = None
    backend: BackendKind = BackendKind.LOCAL
    users: int | None = None  # overrides the users in "a steady load of N users"
    workers: int = 0
    seed: int = 0
    junit: Path | None = None
    allow_hosts: tuple[str, ...] = ()  # as given (the replay repeats them in order)
    repeat: int = 1  # runs of each scenario, for pass rates
    # Only recorded for the replay: the runner gets the topology and monitoring already built from them.
    topology_file: Path = DEFAULT_TOPOLOGY
    env: tuple[str, ...] = ()  # SERVICE:NAME=VALUE assignments (--env)
    monitoring: bool | None = None  # --monitoring / --no-monitoring; None: the topology's default
    alert_rules: tuple[Path, ...] = ()
    prometheus_url: str | None = None

    @property
    def replay(self) -> str:
        """The command line that runs the same scenarios with the same seed and options (not the output
        paths), recorded in results.json."""
        words = ["harness", "run", *(str(p) for p in self.features), "--seed", str(self.seed)]
        if self.topology_file != DEFAULT_TOPOLOGY:
            words += ["--topology", str(self.topology_file)]
        for flag, value in (("--tags", self.tags), ("--users", self.users), ("--backend", self.backend)):
            if value is not None and not (flag == "--backend" and value is BackendKind.LOCAL):
                words += [flag, str(value)]
        if self.workers:
            words += ["--workers", str(self.workers)]
        if self.repeat > 1:
            words += ["--repeat", str(self.repeat)]
        for assignment in self.env:
            words += ["--env", assignment]
        for host in self.allow_hosts:
            words += ["--allow-host", host]
        if self.monitoring is not None:
            words.append("--monitoring" if self.monitoring else "--no-monitoring")
        for rules in self.alert_rules:
            words += ["--alert-rules", str(rules)]
        if self.prometheus_url:
            words += ["--prometheus-url", self.prometheus_url]
        return shlex.join(words)


@dataclass
class ScenarioRun:
    name: str
    feature: str
    started: float
    faults: FaultSession
    records_dir: Path
    seed: int = 0  # drives this scenario's random choices (load behaviour)
    marks: dict[str, float] = field(default_factory=dict)
    verdicts: list[Verdict] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)  # mark -> scraped counters

    def mark(self, name: str, at: float | None = None) -> float:
        self.marks[name] = time.monotonic() if at is None else at
        return self.marks[name]

    def since(self, event: str) -> float:
        if event not in self.marks:
            raise HarnessError(f"no {event!r} happened yet in this scenario (known: {', '.join(self.marks)})")
        return self.marks[event]

    def check(self, verdict: Verdict) -> Verdict:
        self.verdicts.append(verdict)
        if not verdict.passed:
            raise ScenarioFailed(verdict)
        return verdict

    def active(self, kind: str, target: str) -> FaultHandle | None:
        """The newest active fault of ``kind`` on ``target``, if any."""
        for handle in reversed(self.faults.active):
            if handle.spec.kind == kind and handle.spec.target == target:
                return handle
        return None


class RunContext:
    """Everything a run's steps share. Built by the runner, torn down by it."""

    def __init__(self, options: RunOptions, system: System, journal: Journal, client: SystemClient,
                 observer_client: SystemClient) -> None:
        """``client`` serves the steps; the observer's thread polls through its own ``observer_client``,
        so its samples never share a connection pool with a step's 40 s question. The runner closes both."""
        self.options = options
        self.system = system
        self.journal = journal
        self.client = client  # the system's HTTP contract (status, chat, metrics)
        self.observer_client = observer_client
        self.observer = Observer(observer_client, journal)
        self.load: LoadDriver | None = None
        self.monitoring: Monitoring | None = None  # set by the runner when the run has monitoring (--monitoring)
        self.scenario: ScenarioRun | None = None
        self._reader: RecordReader | None = None
        self._records: list[RequestRecord] = []

    def begin(self, scenario: ScenarioRun) -> None:
        """Make ``scenario`` current, with its own records directory (one per load driver)."""
        self.scenario = scenario
        self._reader = RecordReader(scenario.records_dir)
        self._records = []

    # -- records -----------------------------------------------------------------------------------

    def records(self, since: float | None = None, until: float | None = None) -> list[RequestRecord]:
        """The current scenario's request records that started within [since, until]."""
        if self._reader is not None:
            self._records.extend(self._reader.read_new())
        return [r for r in self._records if (since is None or r.t >= since) and (until is None or r.t <= until)]

    def records_now(self, since: float | None = None, until: float | None = None,
                    settle_s: float = 2.0) -> list[RequestRecord]:
        """Like ``records``, once every request that completed before this call has been read.

        The load writes a record when a request completes and flushes every 0.1 s, so a check made a
        few milliseconds after a fault would judge only the requests that finished before it. Waiting
        for the first record of a request *started* after this call orders the two: everything that
        completed earlier is flushed before it. Bounded by ``settle_s`` (no load, a stalled system).
        """
        now = time.monotonic()
        deadline = now + settle_s
        while time.monotonic() < deadline and self.load is not None and self.load.returncode is None:
            if any(r.t >= now for r in self.records(since=now)):
                break
            time.sleep(0.02)
        return self.records(since=since, until=until)

    # -- load --------------------------------------------------------------------------------------

    def start_load(self, users: int, stream_share: float = 0.0) -> None:
        """Start the scenario's load, or change its number of users (the share streaming stays as started)."""
        users = self.options.users or users
        if self.load is None:
            spec = LoadSpec(host=self.system.entry_url(), users=users, spawn_rate=max(users, 1) * 2.0,
                            workers=self.options.workers, seed=self.current().seed,
                            allow_hosts=frozenset(self.options.allow_hosts), stream_share=stream_share)
            self.load = LoadDriver(spec, self.current().records_dir)
            self.load.start()
        else:
            self.load.set_users(users)
        self.journal.record("load_changed", users=users)

    def check_load(self) -> None:
        """Fail loudly when the load generator died: a silent stop would fake a quiet system."""
        if self.load is not None and self.load.returncode is not None:
            raise HarnessError(f"the load generator exited with code {self.load.returncode}: {self.load.stderr_tail(5)}")

    def stop_load(self) -> None:
        if self.load is not None:
            self.load.stop()
            self.load = None
            self.journal.record("load_changed", users=0)

    # -- waiting -----------------------------------------------------------------------------------

    def hold(self, seconds: float, check: Callable[[], None] | None = None) -> None:
        """Let ``seconds`` of scenario time pass under load, checking the load still runs."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(0.1, left))
            if check is not None:
                check()

    def current(self) -> ScenarioRun:
        if self.scenario is None:
            raise HarnessError("no scenario is running")
        return self.scenario
