"""The record reader: new records only, partial lines held back, files merged in time order."""

from __future__ import annotations

import json
from pathlib import Path

from scenarios.load.readers import RecordReader
from scenarios.records import RequestRecord


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
