"""The pure parts of the load driver: the record reader, the spec's validation, the loopback rule."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from core.errors import UsageError
from scenarios.load import (
    MAX_USERS,
    MAX_WORKERS,
    LoadDriver,
    LoadSpec,
    RecordReader,
    check_host,
    is_streaming,
    streaming_users,
)
from scenarios.records import RequestRecord

HOST = "http://127.0.0.1:8000"


def record(t: float, worker: str = "local", status: int = 200) -> RequestRecord:
    return RequestRecord(t=t, wall=1000.0 + t, latency_s=0.01, status=status, mode="normal", worker=worker)


def line(rec: RequestRecord) -> bytes:
    return (json.dumps(rec.to_json()) + "\n").encode()


def append(path: Path, data: bytes) -> None:
    with path.open("ab") as stream:
        stream.write(data)


def test_reader_returns_only_new_records(tmp_path: Path) -> None:
    """Each call returns what was appended since the previous call, nothing twice."""
    reader = RecordReader(tmp_path)
    path = tmp_path / "local.jsonl"
    append(path, line(record(1.0)) + line(record(2.0)))
    assert [r.t for r in reader.read_new()] == [1.0, 2.0]
    assert reader.read_new() == []
    append(path, line(record(3.0)))
    assert [r.t for r in reader.read_new()] == [3.0]


def test_reader_holds_back_a_partial_last_line(tmp_path: Path) -> None:
    """A line still being written is returned whole once its newline arrives."""
    reader = RecordReader(tmp_path)
    path = tmp_path / "local.jsonl"
    full = line(record(5.0))
    append(path, line(record(4.0)) + full[:20])
    assert [r.t for r in reader.read_new()] == [4.0]
    append(path, full[20:-1])
    assert reader.read_new() == []
    append(path, b"\n")
    assert reader.read_new() == [record(5.0)]
    assert reader.malformed_lines == 0


def test_reader_merges_files_in_time_order(tmp_path: Path) -> None:
    """Records from several process files come back together, ordered by start time."""
    reader = RecordReader(tmp_path)
    append(tmp_path / "worker-0.jsonl", line(record(1.0, "worker-0")) + line(record(3.0, "worker-0")))
    append(tmp_path / "worker-1.jsonl", line(record(2.0, "worker-1")))
    assert [(r.t, r.worker) for r in reader.read_new()] == [(1.0, "worker-0"), (2.0, "worker-1"), (3.0, "worker-0")]


def test_reader_picks_up_files_created_later(tmp_path: Path) -> None:
    """A process file that appears after the first read is read from its start."""
    reader = RecordReader(tmp_path)
    assert reader.read_new() == []
    append(tmp_path / "worker-1.jsonl", line(record(7.0, "worker-1")))
    assert [r.worker for r in reader.read_new()] == ["worker-1"]


def test_reader_ignores_other_files(tmp_path: Path) -> None:
    """Only ``*.jsonl`` files are records; the runner's log sits in the same directory."""
    reader = RecordReader(tmp_path)
    (tmp_path / "locust-runner.log").write_text('{"t": 1}\n')
    assert reader.read_new() == []


def test_reader_counts_and_skips_malformed_lines(tmp_path: Path) -> None:
    """A complete line that is not a record is counted, not fatal."""
    reader = RecordReader(tmp_path)
    append(tmp_path / "local.jsonl", b"not json\n" + b'{"t": 1}\n' + line(record(1.0)))
    assert [r.t for r in reader.read_new()] == [1.0]
    assert reader.malformed_lines == 2


def test_reader_restarts_a_truncated_file(tmp_path: Path) -> None:
    """A file that shrank (replaced) is read again from its start."""
    reader = RecordReader(tmp_path)
    path = tmp_path / "local.jsonl"
    append(path, line(record(1.0)) + line(record(2.0)))
    reader.read_new()
    path.write_bytes(line(record(9.0)))
    assert [r.t for r in reader.read_new()] == [9.0]


def test_reader_tolerates_a_missing_directory(tmp_path: Path) -> None:
    """Before the runner has created its directory there is simply nothing to read."""
    assert RecordReader(tmp_path / "not-yet").read_new() == []


@pytest.mark.parametrize("url", ["http://10.1.2.3:8000", "https://example.com", "http://[2001:db8::1]:80"])
def test_spec_refuses_non_loopback_hosts(url: str) -> None:
    """Load goes to this machine only unless the host is explicitly allowed."""
    with pytest.raises(UsageError, match="only loopback"):
        LoadSpec(host=url)


def test_spec_accepts_an_explicitly_allowed_host() -> None:
    """An ``allow_hosts`` entry lifts the loopback rule for that host only."""
    spec = LoadSpec(host="http://10.1.2.3:8000", allow_hosts=frozenset({"10.1.2.3"}))
    assert "--allow-host" in spec.runner_args(Path("/tmp/records"))
    with pytest.raises(UsageError):
        LoadSpec(host="http://10.9.9.9:8000", allow_hosts=frozenset({"10.1.2.3"}))


@pytest.mark.parametrize("url", ["127.0.0.1:8000", "ftp://127.0.0.1", "http://", "http://127.0.0.1:99999"])
def test_check_host_refuses_malformed_urls(url: str) -> None:
    """A target must be an http(s) URL with a host and a valid port."""
    with pytest.raises(UsageError):
        check_host(url)


@pytest.mark.parametrize(
    "changes",
    [
        {"users": -1}, {"users": MAX_USERS + 1}, {"workers": -1}, {"workers": MAX_WORKERS + 1},
        {"spawn_rate": 0}, {"wait_min_s": 0.5, "wait_max_s": 0.1}, {"wait_min_s": -0.1},
        {"timeout_s": 0}, {"max_duration_s": 0}, {"repeat_ratio": 1.5}, {"drain_s": -1},
        {"questions": Path("/nonexistent/questions.jsonl")},
    ],
)
def test_spec_refuses_out_of_range_values(changes: dict[str, object]) -> None:
    """Every bound is checked when the spec is built, before any process starts."""
    with pytest.raises(UsageError):
        LoadSpec(host=HOST, **changes)  # type: ignore[arg-type]


def test_spec_accepts_the_caps() -> None:
    """The caps themselves are allowed: 1000 users over 16 workers."""
    spec = LoadSpec(host=HOST, users=MAX_USERS, workers=MAX_WORKERS)
    args = spec.runner_args(Path("/tmp/records"))
    assert args[args.index("--users") + 1] == str(MAX_USERS)
    assert args[args.index("--workers") + 1] == str(MAX_WORKERS)


def test_driver_set_users_refuses_more_than_the_cap(tmp_path: Path) -> None:
    """A spike beyond the user cap is refused before anything is sent."""
    driver = LoadDriver(LoadSpec(host=HOST), tmp_path)
    with pytest.raises(UsageError, match=str(MAX_USERS)):
        driver.set_users(MAX_USERS + 1)


def test_driver_stop_before_start_is_harmless(tmp_path: Path) -> None:
    """stop() on a driver that never started does nothing, however often it is called."""
    driver = LoadDriver(LoadSpec(host=HOST), tmp_path)
    driver.stop()
    driver.stop()
    assert driver.alive_pids() == []


def test_load_module_does_not_import_locust() -> None:
    """The engine side stays free of Locust and gevent (their import patches the process)."""
    assert "locust" not in sys.modules
    assert "gevent" not in sys.modules


def test_stream_share_is_validated_and_passed_to_the_runner(tmp_path: Path) -> None:
    """A share outside 0..1 is refused; a share is passed on, and no share adds no argument."""
    with pytest.raises(UsageError, match="stream share must be between 0 and 1"):
        LoadSpec(host=HOST, stream_share=1.5)
    args = LoadSpec(host=HOST, stream_share=0.5).runner_args(tmp_path)
    assert args[args.index("--stream-share") + 1] == "0.5"
    assert "--stream-share" not in LoadSpec(host=HOST).runner_args(tmp_path)


@pytest.mark.parametrize(("share", "users", "streaming"), [(0.5, 20, 10), (1.0, 7, 7), (0.0, 9, 0), (0.3, 10, 3)])
def test_streaming_users_are_spread_evenly(share: float, users: int, streaming: int) -> None:
    """The first N users hold int(N * share) streaming ones, and the count the preview shows agrees."""
    flags = [is_streaming(i, share) for i in range(users)]
    assert sum(flags) == streaming == streaming_users(users, share)
    if share == 0.5:
        assert flags[:4] == [False, True, False, True]
