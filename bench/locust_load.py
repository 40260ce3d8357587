"""Load for benchmarks through the product's own Locust runner, and what a window of it shows.

The harness's scenarios send load with ``scenarios.load.driver.LoadDriver`` (Locust in its own process,
one JSON line per request); the benchmarks use the very same driver, so a capacity figure is what the
harness itself can push, not what a second, faster load generator could. ``summarize`` is pure:
throughput counts requests that *finished* inside the window (a closed loop's output), latency
percentiles use requests that *started* inside it.

    Load(host, dir, users=32, wait=(0, 0)) ── LoadDriver ──▶ locust_runner ──▶ <dir>/*.jsonl
        .hold(warmup, seconds) ──▶ RecordReader ──▶ summarize(records, start, end) ──▶ LoadStats
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from scenarios.load.driver import LoadDriver
from scenarios.load.readers import RecordReader
from scenarios.load.spec import LoadSpec
from scenarios.metrics import percentile
from scenarios.records import RequestRecord

P99_LIMIT_S = 1.0  # "sustainable" capacity: the highest rate whose p99 stays under this


@dataclass(frozen=True)
class LoadStats:
    """What one window of load showed."""

    users: int
    seconds: float
    finished: int  # requests that finished inside the window
    ok: int  # of those, answered with HTTP 200
    p50_s: float | None
    p99_s: float | None
    modes: dict[str, int] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.finished / self.seconds if self.seconds > 0 else 0.0

    @property
    def ok_rps(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0


def summarize(records: Sequence[RequestRecord], start: float, end: float, users: int = 0) -> LoadStats:
    """Throughput and latency of the requests of one window [start, end) on the monotonic clock."""
    finished = [r for r in records if start <= r.t + r.latency_s < end]
    started = [r.latency_s for r in records if start <= r.t < end and r.status]
    modes = Counter(r.mode for r in finished if r.mode)
    return LoadStats(users, end - start, len(finished), sum(r.ok for r in finished),
                     percentile(started, 50), percentile(started, 99), dict(modes))


def sustainable(tried: Sequence[LoadStats], p99_limit_s: float = P99_LIMIT_S) -> LoadStats | None:
    """The level with the highest rate of usable answers whose p99 stayed under the limit; None when
    no level did (the system cannot keep p99 under the limit at the lowest load tried)."""
    ok = [s for s in tried if s.p99_s is not None and s.p99_s < p99_limit_s and s.ok > 0]
    return max(ok, key=lambda s: s.ok_rps, default=None)


class Load:
    """One Locust runner process, steered between measurement windows; stopped on exit."""

    def __init__(self, host: str, records_dir: Path, *, users: int, workers: int = 0,
                 wait_s: tuple[float, float] = (0.0, 0.0), seed: int = 0, max_duration_s: float = 600.0,
                 timeout_s: float = 40.0, drain_s: float = 1.0) -> None:
        spec = LoadSpec(host=host, users=users, spawn_rate=max(10.0, users * 4.0), workers=workers, seed=seed,
                        wait_min_s=wait_s[0], wait_max_s=wait_s[1], max_duration_s=max_duration_s,
                        timeout_s=timeout_s, drain_s=drain_s)
        self.users = users
        self._driver = LoadDriver(spec, records_dir)
        self._reader = RecordReader(records_dir)
        self._records: list[RequestRecord] = []

    def __enter__(self) -> Load:
        self._driver.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._driver.stop()

    def records(self) -> list[RequestRecord]:
        """Every record so far (the runner flushes every 0.1 s)."""
        self._records.extend(self._reader.read_new())
        return self._records

    def set_users(self, users: int) -> None:
        self._driver.set_users(users, rate=max(10.0, users * 4.0))
        self.users = users

    def hold(self, warmup_s: float, seconds: float) -> LoadStats:
        """Let the load settle for ``warmup_s``, then measure a window of ``seconds``."""
        start = time.monotonic() + warmup_s
        end = start + seconds
        time.sleep(max(0.0, end - time.monotonic()) + 0.3)  # + one flush interval and a margin
        return summarize(self.records(), start, end, self.users)

    def capacity(self, levels: Sequence[int], warmup_s: float, seconds: float) -> tuple[LoadStats | None, list[LoadStats]]:
        """Measure each user level in turn; stop climbing once p99 passes the limit or the rate stops
        growing (more users would only queue). Returns the sustainable level and every level tried."""
        tried: list[LoadStats] = []
        for users in levels:
            if users != self.users:
                self.set_users(users)
            stats = self.hold(warmup_s, seconds)
            tried.append(stats)
            previous = tried[-2] if len(tried) > 1 else None
            if stats.p99_s is None or stats.p99_s >= P99_LIMIT_S:
                break
            if previous is not None and stats.ok_rps < previous.ok_rps * 1.05:
                break
        return sustainable(tried), tried
