"""The runner's command line, checked, as the ``RunnerConfig`` every part of the process reads.

The engine builds these arguments from a validated ``LoadSpec`` (``LoadSpec.runner_args``), so a
refusal here (exit code 2) means the two disagree; they are checked again because the runner can be
started by hand. A worker gets its master's arguments plus ``--worker --master-port --worker-index``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.errors import UsageError
from core.settings import PROJECT_ROOT
from scenarios.load.spec import MAX_USERS, MAX_WORKERS, check_host

BUNDLED_QUESTIONS = PROJECT_ROOT / "system_under_test" / "vectordb" / "data" / "eval_questions.jsonl"
DESCRIPTION = "Send /chat load with Locust and write one RequestRecord JSON line per request."


@dataclass(frozen=True)
class RunnerConfig:
    host: str
    records: Path
    users: int
    spawn_rate: float
    workers: int
    seed: int
    wait_min_s: float
    wait_max_s: float
    timeout_s: float
    max_duration_s: float
    repeat_ratio: float
    drain_s: float
    questions: Path
    stream_share: float
    worker_index: int | None  # set in a worker process
    parent_pid: int | None  # the process whose death stops this one (None: the parent found at start)

    @property
    def worker_id(self) -> str:
        return "local" if self.worker_index is None else f"worker-{self.worker_index}"


def parse_args(argv: Sequence[str]) -> tuple[RunnerConfig, argparse.Namespace]:
    parser = argparse.ArgumentParser(prog="python -m scenarios.locust_runner", description=DESCRIPTION)
    parser.add_argument("--host", required=True, help="base URL of the system under test (loopback only)")
    parser.add_argument("--records", required=True, type=Path, help="directory for <worker-id>.jsonl records")
    parser.add_argument("--users", type=int, default=1, help=f"initial users (0..{MAX_USERS})")
    parser.add_argument("--spawn-rate", type=float, default=10.0, help="users started/stopped per second")
    parser.add_argument("--workers", type=int, default=0, help=f"worker processes (0..{MAX_WORKERS}, 0 = this one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--wait-min", type=float, default=0.05, help="seconds between a user's requests, min")
    parser.add_argument("--wait-max", type=float, default=0.2, help="seconds between a user's requests, max")
    parser.add_argument("--timeout", type=float, default=40.0, help="per-request deadline in seconds")
    parser.add_argument("--max-duration", type=float, default=600.0, help="stop after this many seconds")
    parser.add_argument("--repeat-ratio", type=float, default=0.0, help="share of requests re-asking the last question")
    parser.add_argument("--drain", type=float, default=2.0, help="seconds a stopped user may finish its request")
    parser.add_argument("--questions", type=Path, default=BUNDLED_QUESTIONS, help="JSON-lines or text questions")
    parser.add_argument("--stream-share", type=float, default=0.0, help="share of users asking on /chat/stream")
    parser.add_argument("--allow-host", action="append", default=[], help="a non-loopback host to allow")
    parser.add_argument("--parent-pid", type=int, default=None,
                        help="stop when this process is no longer the parent (default: the parent at start)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--master-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--worker-index", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    check_host(args.host, args.allow_host)
    if not 0 <= args.users <= MAX_USERS:
        raise UsageError(f"--users must be between 0 and {MAX_USERS}, got {args.users}")
    if not 0 <= args.workers <= MAX_WORKERS:
        raise UsageError(f"--workers must be between 0 and {MAX_WORKERS}, got {args.workers}")
    if not args.spawn_rate > 0 or not args.timeout > 0 or not args.max_duration > 0:
        raise UsageError("--spawn-rate, --timeout and --max-duration must be positive")
    if not 0 <= args.wait_min <= args.wait_max:
        raise UsageError(f"--wait-min/--wait-max must satisfy 0 <= min <= max, got {args.wait_min}/{args.wait_max}")
    if not args.drain >= 0:
        raise UsageError(f"--drain must not be negative, got {args.drain}")
    if not 0 <= args.repeat_ratio <= 1:
        raise UsageError(f"--repeat-ratio must be between 0 and 1, got {args.repeat_ratio}")
    if not 0 <= args.stream_share <= 1:
        raise UsageError(f"--stream-share must be between 0 and 1, got {args.stream_share}")
    if args.worker and (args.master_port is None or args.worker_index is None):
        raise UsageError("--worker needs --master-port and --worker-index")
    if not args.questions.is_file():
        raise UsageError(f"questions file {args.questions} does not exist")
    args.records.mkdir(parents=True, exist_ok=True)
    cfg = RunnerConfig(
        host=args.host.rstrip("/"), records=args.records, users=args.users, spawn_rate=args.spawn_rate,
        workers=args.workers, seed=args.seed, wait_min_s=args.wait_min, wait_max_s=args.wait_max,
        timeout_s=args.timeout, max_duration_s=args.max_duration, repeat_ratio=args.repeat_ratio,
        drain_s=args.drain, questions=args.questions, stream_share=args.stream_share,
        worker_index=args.worker_index if args.worker else None, parent_pid=args.parent_pid,
    )
    return cfg, args
