"""The Locust runner process against a real /chat server on loopback, driven through LoadDriver.

Nothing here imports Locust: the runner always runs in its own process.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.errors import UsageError
from core.processes import ProcessRecord, is_running, process_state, start_ticks, terminate
from core.settings import PROJECT_ROOT
from scenarios.load.driver import LoadDriver
from scenarios.load.readers import RecordReader
from scenarios.load.spec import LoadSpec
from scenarios.records import RequestRecord
from tests.support import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# A tiny server speaking the /chat contract. A repeated (user, question) pair is answered from
# "cache" with a notice, so the records show parsed fields; questions starting with "slow" hang for 30 s
# and GET /in-flight?message=... says how many of them are waiting.
CHAT_SERVER = r"""
import asyncio, itertools
from aiohttp import web

seen = set()
ids = itertools.count()
in_flight = {}

async def chat(request):
    body = await request.json()
    message = body["message"]
    if message.startswith("slow"):
        in_flight[message] = in_flight.get(message, 0) + 1
        try:
            await asyncio.sleep(30)
        finally:
            in_flight[message] -= 1
    key = (body["user_id"], body["message"])
    cached = key in seen
    seen.add(key)
    return web.json_response({"message": "ok", "mode": "normal", "notice": "cached answer" if cached else None,
                              "sources": [], "request_id": str(next(ids)), "cached": cached})

async def waiting(request):
    return web.json_response({"in_flight": in_flight.get(request.query["message"], 0)})

async def main():
    app = web.Application()
    app.router.add_post("/chat", chat)
    app.router.add_get("/in-flight", waiting)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(site._server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""

# Starts a driver, says which processes it made, then waits to be killed.
ORPHANING_PARENT = r"""
import json, signal, sys
from pathlib import Path
from scenarios.load.driver import LoadDriver
from scenarios.load.spec import LoadSpec
driver = LoadDriver(LoadSpec(host=sys.argv[1], users=2, workers=int(sys.argv[3])), Path(sys.argv[2]))
driver.start()
print(json.dumps({"runner": driver.pid, "workers": [w.pid for w in driver.workers]}), flush=True)
signal.pause()
"""


def read_line(proc: subprocess.Popen[str], timeout_s: float, what: str) -> str:
    """One stdout line from ``proc``, failing the test after ``timeout_s``."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout_s):
            pytest.fail(f"no output within {timeout_s}s from {what}")
    return proc.stdout.readline().strip()


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}


def stop_process(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for pipe in (proc.stdout, proc.stdin):
        if pipe is not None:
            pipe.close()


@pytest.fixture(scope="module")
def chat_url() -> Iterator[str]:
    """A real HTTP server on a free loopback port, stopped by PID afterwards."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CHAT_SERVER], stdout=subprocess.PIPE, text=True, env=child_env()
    )
    try:
        port = int(read_line(proc, 15, "the chat server"))
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc)


@pytest.fixture
def records(tmp_path: Path) -> Path:
    return tmp_path / "records"


@pytest.fixture
def drivers() -> Iterator[list[LoadDriver]]:
    """Drivers a test started; stopped afterwards even when the test failed."""
    started: list[LoadDriver] = []
    yield started
    for driver in started:
        driver.stop()


def start(drivers: list[LoadDriver], spec: LoadSpec, records: Path) -> LoadDriver:
    driver = LoadDriver(spec, records)
    drivers.append(driver)
    driver.start()
    return driver


def collect_until(reader: RecordReader, seen: list[RequestRecord], t_end: float, timeout_s: float) -> None:
    """Read records into ``seen`` until one that started after ``t_end`` arrives."""
    def probe() -> bool:
        seen.extend(reader.read_new())
        return any(r.t >= t_end for r in seen)

    wait_until(probe, timeout_s, f"a record started after t={t_end:.2f}")


def rate(seen: list[RequestRecord], start_t: float, end_t: float) -> float:
    return sum(start_t <= r.t < end_t for r in seen) / (end_t - start_t)


def test_runner_records_every_request_with_parsed_fields(chat_url: str, records: Path, drivers: list[LoadDriver]) -> None:
    """Two seconds of five users give 200 records with mode, notice and cached read from the body."""
    spec = LoadSpec(host=chat_url, users=5, spawn_rate=50, seed=3, repeat_ratio=0.3, max_duration_s=60)
    driver = start(drivers, spec, records)
    reader = RecordReader(records)
    seen: list[RequestRecord] = []
    collect_until(reader, seen, float(driver.ready["t"]) + 2.0, 15)
    driver.stop()
    seen.extend(reader.read_new())
    assert len(seen) > 20
    assert {r.status for r in seen} == {200}
    assert {r.mode for r in seen} == {"normal"}
    assert {r.worker for r in seen} == {"local"}
    repeats = [r for r in seen if r.name == "chat-repeat"]
    assert repeats and all(r.cached and r.notice for r in repeats)
    assert all(r.latency_s > 0 and r.wall > 0 for r in seen)
    assert driver.stopped is not None and driver.stopped["reason"] == "command"
    assert reader.malformed_lines == 0


@pytest.mark.parametrize("workers", [0, 2])
def test_set_users_raises_the_request_rate(
    chat_url: str, records: Path, drivers: list[LoadDriver], workers: int
) -> None:
    """Going from 2 to 20 users multiplies the requests per second seen in the records."""
    spec = LoadSpec(host=chat_url, users=2, spawn_rate=100, workers=workers, max_duration_s=60)
    driver = start(drivers, spec, records)
    reader = RecordReader(records)
    seen: list[RequestRecord] = []
    base_start = float(driver.ready["t"]) + 0.5
    collect_until(reader, seen, base_start + 1.5, 15)
    spike_t = driver.set_users(20, rate=100)
    collect_until(reader, seen, spike_t + 2.0, 15)
    before = rate(seen, base_start, spike_t)
    after = rate(seen, spike_t + 0.5, spike_t + 2.0)
    assert before > 0
    assert after > 4 * before, f"{before:.1f}/s with 2 users, {after:.1f}/s with 20"


def test_workers_send_from_two_processes(chat_url: str, records: Path, drivers: list[LoadDriver]) -> None:
    """With two workers, both worker processes write the same kind of records."""
    driver = start(drivers, LoadSpec(host=chat_url, users=6, spawn_rate=100, workers=2, max_duration_s=60), records)
    assert driver.ready["mode"] == "distributed"
    reader = RecordReader(records)
    seen: list[RequestRecord] = []

    def both_workers() -> bool:
        seen.extend(reader.read_new())
        return {r.worker for r in seen} == {"worker-0", "worker-1"}

    wait_until(both_workers, 20, "records from worker-0 and worker-1")
    driver.stop()
    seen.extend(reader.read_new())
    assert {r.status for r in seen} == {200}
    assert {r.mode for r in seen} == {"normal"}
    assert sorted(p.name for p in records.glob("*.jsonl")) == ["worker-0.jsonl", "worker-1.jsonl"]


def test_stop_leaves_no_process_behind(chat_url: str, records: Path, drivers: list[LoadDriver]) -> None:
    """After stop() the runner and both workers are gone, and a second stop() is harmless."""
    driver = start(drivers, LoadSpec(host=chat_url, users=4, spawn_rate=100, workers=2, max_duration_s=60), records)
    pids = driver.alive_pids()
    assert len(pids) == 3
    driver.stop()
    assert driver.alive_pids() == []
    assert all(process_state(pid) in {None, "Z"} for pid in pids)
    assert driver.returncode == 0
    driver.stop()


def test_runner_stops_itself_at_max_duration(chat_url: str, records: Path, drivers: list[LoadDriver]) -> None:
    """The hard time bound ends the run without any command."""
    driver = start(drivers, LoadSpec(host=chat_url, users=3, max_duration_s=2), records)
    code = driver.wait(20)
    assert code == 0
    assert driver.stopped is not None and driver.stopped["reason"] == "max-duration"
    assert RecordReader(records).read_new()


@pytest.mark.parametrize("workers", [0, 2])
def test_runner_exits_when_its_parent_dies(chat_url: str, records: Path, workers: int) -> None:
    """Killing the process that started the runner ends the runner and its workers."""
    parent = subprocess.Popen(
        [sys.executable, "-c", ORPHANING_PARENT, chat_url, str(records), str(workers)],
        stdout=subprocess.PIPE, text=True, env=child_env(), cwd=PROJECT_ROOT,
    )
    children: list[ProcessRecord] = []
    try:
        started = json.loads(read_line(parent, 30, "the parent process"))
        for pid in [started["runner"], *started["workers"]]:
            ticks = start_ticks(pid)
            assert ticks is not None
            children.append(ProcessRecord("load", pid, ticks, 0, ""))
        assert len(children) == 1 + workers
        parent.kill()
        parent.wait()
        wait_until(lambda: not any(is_running(c) for c in children), 20, "the orphaned load processes to exit")
    finally:
        stop_process(parent)
        for child in children:
            terminate(child, grace_s=2.0)


def test_runner_whose_named_parent_died_before_it_started_stops_by_itself(chat_url: str, records: Path) -> None:
    """A runner told to watch a parent that is already gone (the harness was SIGKILLed while spawning it)
    stops at once instead of taking init for its parent and running to its max duration."""
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    runner = subprocess.Popen(
        [sys.executable, "-m", "scenarios.locust_runner", "--host", chat_url, "--records", str(records),
         "--users", "1", "--max-duration", "120", "--parent-pid", str(gone.pid)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=child_env(), cwd=PROJECT_ROOT,
    )
    try:
        assert runner.wait(60) == 0
        assert runner.stdout is not None
        events = [json.loads(line) for line in runner.stdout.read().splitlines() if line.startswith("{")]
        assert [e.get("reason") for e in events if e.get("event") == "stopped"] == ["parent-died"]
    finally:
        stop_process(runner)


def test_runner_stops_on_sigterm(chat_url: str, records: Path, drivers: list[LoadDriver]) -> None:
    """SIGTERM to the runner ends it cleanly, workers included."""
    driver = start(drivers, LoadSpec(host=chat_url, users=2, workers=2, max_duration_s=60), records)
    assert driver.pid is not None
    os.kill(driver.pid, signal.SIGTERM)
    assert driver.wait(20) == 0
    assert driver.stopped is not None and driver.stopped["reason"] == "signal"
    wait_until(lambda: not any(is_running(w) for w in driver.workers), 10, "the workers to exit")


def test_connection_errors_become_status_zero_records(records: Path, drivers: list[LoadDriver]) -> None:
    """A host with nothing listening gives records with status 0 and the error's name."""
    driver = start(drivers, LoadSpec(host="http://127.0.0.1:9", users=2, max_duration_s=60), records)
    reader = RecordReader(records)
    seen: list[RequestRecord] = []

    def some() -> bool:
        seen.extend(reader.read_new())
        return len(seen) >= 5

    wait_until(some, 15, "five failed requests")
    driver.stop()
    assert {r.status for r in seen} == {0}
    assert {r.error for r in seen} == {"ConnectionRefusedError"}
    assert all(r.mode is None for r in seen)


def test_request_deadline_becomes_a_timeout_record(
    chat_url: str, records: Path, drivers: list[LoadDriver], tmp_path: Path
) -> None:
    """A request that outlives the timeout is recorded as status 0, error Timeout, near the deadline."""
    questions = tmp_path / "questions.txt"
    questions.write_text("slow\n")
    spec = LoadSpec(host=chat_url, users=1, timeout_s=0.5, questions=questions, max_duration_s=60)
    driver = start(drivers, spec, records)
    reader = RecordReader(records)
    seen: list[RequestRecord] = []

    def some() -> bool:
        seen.extend(reader.read_new())
        return bool(seen)

    wait_until(some, 15, "a timed-out request")
    driver.stop()
    first = seen[0]
    assert (first.status, first.error) == (0, "Timeout")
    assert 0.45 <= first.latency_s < 2.0


def test_stop_cancels_requests_still_in_flight_after_the_drain(
    chat_url: str, records: Path, drivers: list[LoadDriver], tmp_path: Path
) -> None:
    """A request hanging when the load stops is recorded as Cancelled once the drain time is over."""
    questions = tmp_path / "questions.txt"
    questions.write_text("slow-cancel\n")
    spec = LoadSpec(host=chat_url, users=2, spawn_rate=100, questions=questions, drain_s=0.2, max_duration_s=60)
    driver = start(drivers, spec, records)
    reader = RecordReader(records)

    def hanging() -> bool:
        answer = httpx.get(f"{chat_url}/in-flight", params={"message": "slow-cancel"}, trust_env=False, timeout=5)
        return int(answer.json()["in_flight"]) >= 2

    wait_until(hanging, 15, "two requests hanging on the server")
    driver.stop()
    seen = reader.read_new()
    assert len(seen) == 2
    assert {(r.status, r.error) for r in seen} == {(0, "Cancelled")}


def test_driver_start_reports_the_runner_failure(
    chat_url: str, records: Path, drivers: list[LoadDriver], tmp_path: Path
) -> None:
    """A runner that exits before ready raises with the reason from its stderr."""
    questions = tmp_path / "empty.txt"
    questions.write_text("\n")
    with pytest.raises(UsageError, match="holds no questions"):
        start(drivers, LoadSpec(host=chat_url, questions=questions), records)
    assert drivers[0].alive_pids() == []


def test_runner_refuses_more_than_the_user_cap(chat_url: str, records: Path) -> None:
    """Asking the runner itself for 1001 users exits with code 2 and says why."""
    result = subprocess.run(
        [sys.executable, "-m", "scenarios.locust_runner", "--host", chat_url, "--records", str(records),
         "--users", "1001"],
        capture_output=True, text=True, env=child_env(), cwd=PROJECT_ROOT, timeout=30,
    )
    assert result.returncode == 2
    assert "--users must be between 0 and 1000" in result.stderr
    assert result.stdout == ""
