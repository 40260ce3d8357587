"""The runner's entry point and its three kinds of process: local, master, worker.

    local    (``--workers 0``)  one process: runs the users, writes ``local.jsonl``, speaks the protocol
    master   (``--workers N``)  spawns N workers, dispatches users to them, speaks the protocol
    worker   (``--worker``)     runs the users the master gives it, writes ``worker-I.jsonl``; ends when
                                the master quits (or its own, longer, duration bound runs out)

``python -m scenarios.locust_runner`` runs this module; the package imports Locust before it.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Sequence

import gevent
import locust
from locust.env import Environment
from locust.runners import LocalRunner, WorkerRunner

from core.errors import ExitCode, UsageError
from scenarios.load.protocol import Event

from .commands import PARENT_POLL_S, Control, emit, read_commands
from .config import RunnerConfig, parse_args
from .users import RecordWriter, load_questions, make_user_class
from .workers import WORKER_CONNECT_TIMEOUT_S, bind_master, spawn_worker, stop_workers, wait_for_workers, watch_workers

WORKER_EXTRA_DURATION_S = 30.0  # a worker's own bound backs up the master's

log = logging.getLogger("scenarios.locust_runner")


def run_local(cfg: RunnerConfig) -> int:
    control = Control()
    control.watch(cfg.max_duration_s, cfg.parent_pid)
    writer = RecordWriter(cfg.records / f"{cfg.worker_id}.jsonl", cfg.worker_id)
    env = Environment(user_classes=[make_user_class(cfg, writer)], host=cfg.host, stop_timeout=cfg.drain_s or None)
    runner: LocalRunner = env.create_local_runner()
    runner.start(cfg.users, cfg.spawn_rate)
    emit(Event.READY, pid=os.getpid(), mode="local", users=cfg.users, spawn_rate=cfg.spawn_rate,
         worker_ids=[cfg.worker_id], workers=[], records=str(cfg.records), t=time.monotonic(),
         locust_version=locust.__version__)
    gevent.spawn(read_commands, control, lambda users, rate: runner.start(users, rate), cfg.spawn_rate)
    reason = control.wait()
    log.info("stopping (%s)", reason)
    runner.quit()
    writer.close()
    emit(Event.STOPPED, reason=reason, t=time.monotonic(), requests={cfg.worker_id: writer.count})
    return ExitCode.OK


def run_master(cfg: RunnerConfig, argv: Sequence[str]) -> int:
    control = Control()
    control.watch(cfg.max_duration_s, cfg.parent_pid)
    env = Environment(user_classes=[make_user_class(cfg, None)], host=cfg.host, stop_timeout=cfg.drain_s or None)
    runner, port = bind_master(env)
    workers = [spawn_worker(argv, port, index) for index in range(cfg.workers)]
    try:
        if not wait_for_workers(runner, workers, control):
            log.error("the %d load workers did not all connect within %s s", cfg.workers, WORKER_CONNECT_TIMEOUT_S)
            runner.quit()
            return ExitCode.INFRASTRUCTURE
        starter = gevent.spawn(runner.start, cfg.users, cfg.spawn_rate)

        def apply_users(users: int, rate: float) -> None:
            # The master dispatches synchronously; a new target replaces a dispatch still in progress.
            nonlocal starter
            starter.kill()
            starter = gevent.spawn(runner.start, users, rate)

        emit(Event.READY, pid=os.getpid(), mode="distributed", users=cfg.users, spawn_rate=cfg.spawn_rate,
             worker_ids=[f"worker-{i}" for i in range(cfg.workers)], master_port=port,
             workers=[{"id": f"worker-{i}", "pid": proc.pid} for i, proc in enumerate(workers)],
             records=str(cfg.records), t=time.monotonic(), locust_version=locust.__version__)
        gevent.spawn(read_commands, control, apply_users, cfg.spawn_rate)
        gevent.spawn(watch_workers, workers, control)
        reason = control.wait()
        log.info("stopping (%s), with the workers", reason)
        starter.kill()
        runner.quit()  # tells the workers to quit
    finally:
        stop_workers(workers)
    emit(Event.STOPPED, reason=reason, t=time.monotonic())
    return ExitCode.OK


def run_worker(cfg: RunnerConfig, master_port: int) -> int:
    control = Control()
    control.watch(cfg.max_duration_s + WORKER_EXTRA_DURATION_S, cfg.parent_pid)
    writer = RecordWriter(cfg.records / f"{cfg.worker_id}.jsonl", cfg.worker_id)
    env = Environment(user_classes=[make_user_class(cfg, writer)], host=cfg.host, stop_timeout=cfg.drain_s or None)
    runner: WorkerRunner = env.create_worker_runner("127.0.0.1", master_port)

    def watch_runner() -> None:
        # The master's "quit" makes the runner kill its own greenlets: that is this worker's end.
        while len(runner.greenlet):
            gevent.sleep(PARENT_POLL_S)
        control.stop("master-quit")

    gevent.spawn(watch_runner)
    reason = control.wait()
    if len(runner.greenlet):
        runner.quit()
    writer.close()
    log.info("%s stopped (%s) after %d requests", cfg.worker_id, reason, writer.count)
    return ExitCode.OK


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        cfg, args = parse_args(argv)
        load_questions(cfg.questions)  # refuse a bad file before anything starts
    except UsageError as error:
        print(f"locust_runner: error: {error}", file=sys.stderr, flush=True)
        return ExitCode.USAGE
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr,
        format=f"%(asctime)s {cfg.worker_id if args.worker else 'runner'}[%(process)d] %(name)s %(levelname)s: %(message)s",
    )
    if args.worker:
        return run_worker(cfg, int(args.master_port))
    if cfg.workers:
        return run_master(cfg, argv)
    return run_local(cfg)


if __name__ == "__main__":
    sys.exit(main())
