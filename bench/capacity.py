"""Capacity: sustainable ``/chat`` requests per second in each mode, and the load generator's own ceiling.

Sustainable means the highest rate of HTTP 200 answers whose p99 stays under 1 s, over a few user
levels of a closed Locust loop without think time (``locust_load.Load.capacity``). The modes are
reached by killing dependencies in an order that needs only two breaker recoveries:

    normal ─kill vector-db─▶ degraded-no-context ─kill llm─▶ static-only
           ─restart vector-db─▶ degraded-cache-only ─restart llm─▶ normal

The same Locust runner pointed at a trivial endpoint (``bench.trivial_chat``) gives the generator's
ceiling on this machine, with 1, 2 and 4 processes: when it is several times the system's capacity,
the capacity figures are the system's, not the generator's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from faults.service import Kill
from faults.session import FaultSession
from scenarios.observer import Observer

from .child_server import free_port
from .locust_load import Load, LoadStats
from .resilience import settled, wait_for
from .trivial_chat import trivial_server


@dataclass(frozen=True)
class ModeCapacity:
    mode: str
    best: LoadStats | None
    tried: tuple[LoadStats, ...]


def reference_modes(load: Load, observer: Observer, faults: FaultSession, levels: Sequence[int],
                    warmup_s: float, window_s: float, reset_timeout_s: float) -> list[ModeCapacity]:
    """Capacity in each of the reference system's four modes (see the module docstring)."""
    out: list[ModeCapacity] = []

    def measure(mode: str) -> None:
        wait_for(lambda: settled(observer, mode, all_closed=False), reset_timeout_s + 30, f"the system reaching {mode}")
        best, tried = load.capacity(levels, warmup_s, window_s)
        out.append(ModeCapacity(mode, best, tuple(tried)))
        load.set_users(levels[0])  # light traffic while the next mode is reached: breakers move on calls

    measure("normal")
    vectordb = faults.inject(Kill("vector-db"))
    measure("degraded-no-context")
    llm = faults.inject(Kill("llm"))
    measure("static-only")
    faults.revert(vectordb)
    measure("degraded-cache-only")
    faults.revert(llm)
    wait_for(lambda: settled(observer), reset_timeout_s + 30, "the system settling in normal mode")
    return out


def normal_only(load: Load, levels: Sequence[int], warmup_s: float, window_s: float) -> ModeCapacity:
    """Capacity of a system whose degraded modes the bench cannot reach on purpose."""
    best, tried = load.capacity(levels, warmup_s, window_s)
    return ModeCapacity("normal", best, tuple(tried))


def generator(records_root: Path, workers: Sequence[int], users: int, warmup_s: float,
              window_s: float) -> dict[int, LoadStats]:
    """Locust's rate against the trivial endpoint with each number of worker processes (0: one
    process, no master)."""
    out: dict[int, LoadStats] = {}
    with trivial_server(free_port()) as url:
        for count in workers:
            with Load(url, records_root / f"workers-{count}", users=users, workers=count, max_duration_s=120) as load:
                out[count] = load.hold(warmup_s, window_s)
    return out
