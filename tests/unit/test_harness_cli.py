"""The CLI's last line of defence: an unexpected error is one line and exit 3, its traceback in a log."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

import harness
from core.errors import ExitCode


def test_main_turns_an_unexpected_error_into_one_line_and_a_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An OSError from inside a command prints one line naming the log, exits 3, and the log has the traceback."""

    def broken(args: argparse.Namespace) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setitem(harness._COMMANDS, "status", broken)
    code = harness.main(["status", "--state-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == ExitCode.INFRASTRUCTURE
    assert err.count("\n") == 1 and err.startswith("harness: unexpected OSError: [Errno 28] No space left on device")
    logs = list((tmp_path / "logs").glob("harness-error-*.log"))
    assert len(logs) == 1 and f"(traceback in {logs[0]})" in err
    assert "Traceback (most recent call last)" in logs[0].read_text() and "in broken" in logs[0].read_text()
