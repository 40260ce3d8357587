"""What load a scenario asks for, validated when it is built: the ``LoadSpec`` and the load's bounds.

Both processes use these checks: the engine builds a ``LoadSpec`` (and the commands of
``scenarios.load.protocol``) from them, and the Locust runner process re-checks its command line and
spreads streaming users with ``is_streaming``. A load target must be on this machine unless its host
was allowed by name (``core.safety``); users and workers are capped so a typo cannot melt the machine.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from core.errors import UsageError
from core.safety import check_host as check_allowed

MAX_USERS = 1000
MAX_WORKERS = 16


def host_of(url: str) -> str:
    """The host part of an http(s) URL (without IPv6 brackets); UsageError when it is not such a URL."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as error:
        raise UsageError(f"load host {url!r} is not a valid URL: {error}") from None
    if parts.scheme not in {"http", "https"} or not host:
        raise UsageError(f"load host {url!r} must be an http:// or https:// URL with a host")
    return host


def check_host(url: str, allow_hosts: Iterable[str] = ()) -> None:
    """Refuse a load target that is not on this machine, unless it was allowed by name."""
    check_allowed(host_of(url), allow_hosts, "load")


@dataclass(frozen=True)
class LoadSpec:
    """What load to send, validated when built. ``workers=0`` runs a single Locust process."""

    host: str
    users: int = 10
    spawn_rate: float = 10.0
    workers: int = 0
    seed: int = 0
    wait_min_s: float = 0.05
    wait_max_s: float = 0.2
    timeout_s: float = 40.0
    max_duration_s: float = 600.0
    questions: Path | None = None
    repeat_ratio: float = 0.0  # share of requests that re-ask the user's previous question ("chat-repeat")
    drain_s: float = 2.0  # a stopped user may finish its request this long before it is cancelled
    stream_share: float = 0.0  # share of users asking on /chat/stream (1 = all), spread evenly over the users
    allow_hosts: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        check_host(self.host, self.allow_hosts)
        check_users(self.users)
        check_rate(self.spawn_rate)
        if not 0 <= self.workers <= MAX_WORKERS:
            raise UsageError(f"load workers must be between 0 and {MAX_WORKERS}, got {self.workers}")
        if not 0 <= self.wait_min_s <= self.wait_max_s:
            raise UsageError(
                f"load wait time must satisfy 0 <= min <= max, got {self.wait_min_s}..{self.wait_max_s} s"
            )
        if not self.timeout_s > 0:
            raise UsageError(f"load request timeout must be positive, got {self.timeout_s} s")
        if not self.max_duration_s > 0:
            raise UsageError(f"load max duration must be positive, got {self.max_duration_s} s")
        if not self.drain_s >= 0:
            raise UsageError(f"load drain time must not be negative, got {self.drain_s} s")
        if not 0 <= self.repeat_ratio <= 1:
            raise UsageError(f"load repeat ratio must be between 0 and 1, got {self.repeat_ratio}")
        if not 0 <= self.stream_share <= 1:
            raise UsageError(f"load stream share must be between 0 and 1, got {self.stream_share}")
        if self.questions is not None and not self.questions.is_file():
            raise UsageError(f"questions file {self.questions} does not exist")

    def runner_args(self, records_dir: Path) -> list[str]:
        """The runner's command-line arguments for this spec."""
        args = [
            "--host", self.host, "--records", str(records_dir), "--users", str(self.users),
            "--spawn-rate", repr(self.spawn_rate), "--workers", str(self.workers), "--seed", str(self.seed),
            "--wait-min", repr(self.wait_min_s), "--wait-max", repr(self.wait_max_s),
            "--timeout", repr(self.timeout_s), "--max-duration", repr(self.max_duration_s),
            "--repeat-ratio", repr(self.repeat_ratio), "--drain", repr(self.drain_s),
        ]
        if self.stream_share:
            args += ["--stream-share", repr(self.stream_share)]
        if self.questions is not None:
            args += ["--questions", str(self.questions)]
        for host in sorted(self.allow_hosts):
            args += ["--allow-host", host]
        return args


def is_streaming(index: int, share: float) -> bool:
    """Whether a process's user number ``index`` (0, 1, ...) streams: spread evenly over the users, so
    any first N of them hold ``int(N * share)`` streaming ones, however the user count changes."""
    return int((index + 1) * share) > int(index * share)


def streaming_users(users: int, share: float) -> int:
    """How many of one process's ``users`` stream at ``share`` (workers each spread their own users)."""
    return int(users * share)


def check_users(users: int) -> None:
    if not 0 <= users <= MAX_USERS:
        raise UsageError(f"load users must be between 0 and {MAX_USERS}, got {users}")


def check_rate(rate: float) -> None:
    if not rate > 0:
        raise UsageError(f"load spawn rate must be positive, got {rate}")
