"""``harness bench``: every benchmark in one run, against references measured in the same run.

    toxiproxy hop (own Toxiproxy + upstream)               -> hop figures
    http fault proxy (own proxy + upstreams, bench.http_proxy) -> http fault proxy figures (throughput
                                                              against the capacity measured below)
    system up (ManagedSystem: services behind Toxiproxy, the bench's gateway knobs)
      capacity per mode (Locust, closed loop)              -> capacity figures
      steady load; per dependency x {kill, partition, blackhole}:
        inject, degrade, hold open, revert, recover        -> degrade, fast-fail, recover figures
      observer alone at 10 Hz; scenario setup/teardown     -> harness cost figures
      fault -> alert with the shipped rules and a Prometheus  -> alerting figures (bench.alerting)
    system down (every server stopped by PID, every fault reverted by the FaultSession)
    Locust against a trivial /chat with 1, 2, 4 processes  -> generator capacity and scaling
    a suite run (child ``harness run``) or --suite-results -> suite wall time, scenario duration
    one scenario without, then with --monitoring (children) -> monitoring's cost in wall time and CPU

The system and the suite each get a free port offset (unless one was given) and their own state
directory inside the bench's run directory, so a bench runs beside other runs and keeps its logs.
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.errors import UsageError
from core.journal import Journal
from core.ports import free_port_offset
from core.settings import HarnessSettings
from core.topology import Topology, load_topology
from faults.session import FaultSession
from scenarios.observer import Observer
from system import ManagedSystem
from system.backend import BackendKind
from system.client import SystemClient

from . import catalog
from .alerting import AlertDelay, RunCost, alert_delays, run_cost
from .capacity import ModeCapacity, generator, normal_only, reference_modes
from .figures import Figure, bench_document
from .harness_cost import SuiteRun, observer_cpu, read_suite, run_suite, scenario_overhead
from .http_proxy import measure as measure_http_proxy
from .locust_load import Load
from .profile import Profile, is_reference
from .resilience import FAULTS, Case, fast_fail_p99, measure_steady, run_case
from .toxiproxy_hop import measure_overhead

# Below the ranges the tests and the per-module benches search (10_000..11_700), and low enough that
# every proxy port (21001 + offset) stays under the ephemeral range.
SYSTEM_OFFSETS = (9_000, 10_000)
LOAD_BOUND_S = 1800.0  # every Locust runner stops by itself after this, whatever happens here
SUITE_TIMEOUT_S = 1800.0


@dataclass(frozen=True)
class BenchOptions:
    profile: Profile
    topology_path: Path
    backend: BackendKind
    out_dir: Path
    port_offset: int | None = None
    state_dir: Path | None = None
    suite_results: Path | None = None
    env: tuple[str, ...] = ()  # --env SERVICE:NAME=VALUE assignments, as for 'harness run'
    command: str = "harness bench"


def new_bench_dir(root: Path) -> Path:
    """``runs/<UTC timestamp>-bench-<id>`` (``runs/latest`` stays the latest scenario run's)."""
    path = root / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-bench-{secrets.token_hex(3)}"
    path.mkdir(parents=True)
    return path


def run_bench(options: BenchOptions, settings: HarnessSettings, say: Callable[[str], None]) -> dict[str, Any]:
    """Measure everything (see the module docstring) and write ``bench.json``; returns its content."""
    profile, out = options.profile, options.out_dir
    out.mkdir(parents=True, exist_ok=True)
    base = load_topology(options.topology_path).with_env(list(options.env))
    started, load_before = time.monotonic(), os.getloadavg()
    meta: dict[str, Any] = {
        "command": options.command, "profile": profile.name, "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "topology": base.name, "topology_path": str(options.topology_path), "backend": options.backend,
        "machine": {"cpus": os.cpu_count(), "system": platform.platform(), "python": platform.python_version()},
        "load_average_before": [round(x, 2) for x in load_before],
    }
    figures: list[Figure] = []

    say(f"toxiproxy hop: {profile.hop_requests} requests each way")
    hop = measure_overhead(profile.hop_requests)
    meta["toxiproxy_version"] = hop["toxiproxy_version"]
    figures += catalog.hop(hop["overhead"])

    say("http fault proxy: added latency, throughput, timing faults")
    http_proxy = measure_http_proxy(profile.hop_requests, profile.window_s, trials=5 if profile.name == "quick" else 20)

    offset = options.port_offset if options.port_offset is not None else free_port_offset(base, *SYSTEM_OFFSETS)
    settings = settings.with_overrides(port_offset=offset, state_dir=options.state_dir or out / "state")
    measured = _system_section(base.with_port_offset(offset), settings, options, meta, say)
    figures += measured.figures

    say("Locust against a trivial /chat: 1 process, 2 and 4 workers")
    locust = generator(out / "records" / "generator", catalog.GENERATOR_WORKERS, profile.scaling_users,
                       profile.warmup_s, profile.window_s)
    figures += catalog.capacity(measured.capacity, locust.get(0))
    figures += catalog.http_proxy(http_proxy, measured.capacity)

    suite = _suite(options, base, out, say)
    suite_label = profile.suite_label if options.suite_results is None else f"the suite run in {options.suite_results}"
    figures += catalog.cost(measured.observer_share, measured.observer_samples, measured.overhead_s, suite,
                            suite_label)
    figures += catalog.scaling(locust)
    figures += catalog.alerting(measured.alert_delays, _monitoring_cost(options, base, out, say))

    meta["duration_s"] = round(time.monotonic() - started, 1)
    meta["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    document = bench_document(_ordered(figures), meta)
    (out / "bench.json").write_text(json.dumps(document, indent=2), encoding="utf-8")
    return document


@dataclass
class _SystemMeasurements:
    """What the system section measured: finished figures, and parts finished after the suite run."""

    figures: list[Figure] = field(default_factory=list)
    capacity: list[ModeCapacity] = field(default_factory=list)
    observer_share: float | None = None
    observer_samples: int = 0
    overhead_s: float | None = None
    alert_delays: list[AlertDelay] = field(default_factory=list)


def _system_section(topology: Topology, settings: HarnessSettings, options: BenchOptions,
                    meta: dict[str, Any], say: Callable[[str], None]) -> _SystemMeasurements:
    """Everything that needs the system running."""
    profile, knobs = options.profile, options.profile.knobs
    reference = is_reference(topology)
    overrides = knobs.overrides() if reference else None
    system = ManagedSystem(topology, settings, options.backend, overrides)
    if system.is_up():
        raise UsageError(f"a system already runs with state in {settings.state_dir}: the bench starts its own "
                         f"(run 'harness down' first, or pass another --port-offset/--state-dir)")
    meta["port_offset"] = settings.port_offset
    meta["reference_knobs"] = asdict(knobs) if reference else None
    records = options.out_dir / "records"
    journal = Journal()
    client = SystemClient.for_entry(topology, settings)
    observer = Observer(client, journal)
    got = _SystemMeasurements()
    try:
        say(f"starting the system (port offset {settings.port_offset}, backend {options.backend})")
        system.up()
        observer.start()
        with FaultSession(system.injectors(), journal) as faults:
            levels = profile.capacity_levels
            with Load(system.entry_url(), records / "capacity", users=levels[0], max_duration_s=LOAD_BOUND_S) as load:
                if reference:
                    say(f"capacity in each mode: users {', '.join(map(str, levels))}")
                    got.capacity = reference_modes(load, observer, faults, levels, profile.warmup_s,
                                                   profile.window_s, knobs.reset_timeout_s)
                else:
                    say(f"capacity in normal mode: users {', '.join(map(str, levels))}")
                    got.capacity = [normal_only(load, levels, profile.warmup_s, profile.window_s)]
            if reference:
                got.figures += _resilience(system, observer, faults, profile, records, meta, say)
                got.alert_delays = alert_delays(topology, settings, system.entry_url(), faults, profile.steady_users,
                                                options.out_dir / "alerting", say)
            else:
                reason = f"needs the reference system's knobs (timeouts, reset_timeout, mode per dependency); " \
                         f"topology {topology.name!r} is not it"
                got.figures += catalog.reference_only(reason, knobs)
        observer.stop()
        say(f"harness cost: observer alone for {profile.observer_s:g} s, {profile.overhead_cycles} scenario setups")
        got.observer_share, got.observer_samples = observer_cpu(client, profile.observer_s)
        got.overhead_s = scenario_overhead(system, client, records, profile.steady_users, profile.overhead_cycles)
    finally:
        observer.stop()
        client.close()
        try:
            say("stopping the system")  # a closed stdout (the caller died) must not skip the stop
        finally:
            system.down()
            system.close()
    return got


def _resilience(system: ManagedSystem, observer: Observer, faults: FaultSession, profile: Profile, records: Path,
                meta: dict[str, Any], say: Callable[[str], None]) -> list[Figure]:
    knobs = profile.knobs
    cases: list[Case] = []
    with Load(system.entry_url(), records / "steady", users=profile.steady_users, wait_s=(0.05, 0.2),
              max_duration_s=LOAD_BOUND_S) as load:
        steady = measure_steady(load, profile.warmup_s, profile.window_s)
        meta["steady_normal_p99_s"], meta["steady_request_gap_s"] = round(steady.p99_s, 4), round(steady.gap_s, 4)
        for dependency in catalog.DEPENDENCIES:
            for fault in FAULTS:
                say(f"{fault} {dependency}: degrade, hold the breaker open, revert, recover")
                cases.append(run_case(load, observer, faults, knobs, fault, dependency, steady, profile.hold_open_s))
    p99s = {dep: fast_fail_p99(cases, dep) for dep in catalog.DEPENDENCIES}
    return catalog.fast_fail(p99s, knobs) + catalog.degrade(cases) + catalog.recover(cases, knobs, profile.describe_reset())


def _suite(options: BenchOptions, base: Topology, out: Path, say: Callable[[str], None]) -> SuiteRun:
    if options.suite_results is not None:
        return read_suite(options.suite_results)
    offset = options.port_offset if options.port_offset is not None else free_port_offset(base, *SYSTEM_OFFSETS)
    say(f"suite: harness run {options.profile.suite_label} (port offset {offset})")
    flags = ["--port-offset", str(offset), "--state-dir", str(out / "suite-state"),
             "--topology", str(options.topology_path), "--backend", options.backend]
    flags += [arg for assignment in options.env for arg in ("--env", assignment)]
    return run_suite(options.profile.suite_paths, out / "suite", flags, SUITE_TIMEOUT_S)


_GROUP_ORDER = (catalog.HOP, catalog.HTTP_PROXY, catalog.FAST_FAIL, catalog.DEGRADE, catalog.RECOVER, catalog.CAPACITY,
                catalog.COST, catalog.SCALING, catalog.ALERTING)


def _monitoring_cost(options: BenchOptions, base: Topology, out: Path, say: Callable[[str], None]) -> list[RunCost]:
    """One fixed-length scenario without, then with, monitoring (``bench.alerting.run_cost``)."""
    offset = options.port_offset if options.port_offset is not None else free_port_offset(base, *SYSTEM_OFFSETS)
    flags = ["--port-offset", str(offset), "--state-dir", str(out / "cost-state"),
             "--topology", str(options.topology_path), "--backend", options.backend]
    flags += [arg for assignment in options.env for arg in ("--env", assignment)]
    costs = []
    # Alternating pairs: one pair on a shared machine swings by 10% either way; the medians of 3 do not.
    for pair in range(1 if options.profile.name == "quick" else 3):
        for monitoring in (False, True):
            label = "with" if monitoring else "without"
            say(f"monitoring cost: a 20 s scenario {label} monitoring (pair {pair + 1})")
            costs.append(run_cost(out / "monitoring-cost" / f"{label}-{pair + 1}", flags, monitoring, SUITE_TIMEOUT_S))
    return costs


def _ordered(figures: list[Figure]) -> list[Figure]:
    """The issue's order: hop, http fault proxy, fast fail, degrade, recover, capacity, harness cost, scaling,
    alerting."""
    return sorted(figures, key=lambda f: _GROUP_ORDER.index(f.group))
