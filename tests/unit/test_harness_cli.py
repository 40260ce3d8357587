"""The CLI's last line of defence: an unexpected error is one line and exit 3, its traceback in a log."""

from __future__ import annotations

import argparse
import os
import signal
from pathlib import Path

import pytest

import harness
from core.errors import ExitCode
from core.settings import HarnessSettings
from system.backend import BackendKind


def test_main_turns_an_unexpected_error_into_one_line_and_a_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An OSError from inside a command prints one line naming the log, exits 3, and the log has the traceback."""

    def broken(args: argparse.Namespace, settings: HarnessSettings) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setitem(harness._COMMANDS, "status", broken)
    code = harness.main(["status", "--state-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == ExitCode.INFRASTRUCTURE
    assert err.count("\n") == 1 and err.startswith("harness: unexpected OSError: [Errno 28] No space left on device")
    logs = list((tmp_path / "logs").glob("harness-error-*.log"))
    assert len(logs) == 1 and f"(traceback in {logs[0]})" in err
    assert "Traceback (most recent call last)" in logs[0].read_text() and "in broken" in logs[0].read_text()


def test_main_turns_sigterm_during_any_command_into_exit_130(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """SIGTERM while a command runs (say, writing the report after the scenarios) exits 130, not -15."""

    def terminated_midway(args: argparse.Namespace, settings: HarnessSettings) -> int:
        os.kill(os.getpid(), signal.SIGTERM)
        sum(range(200_000))  # the handler runs at the next check; without it the process would die here
        return ExitCode.OK

    class Unhandled(Exception):
        """What the test's own handler raises if main leaves SIGTERM to it (instead of killing pytest)."""

    def guard(signum: int, frame: object) -> None:
        raise Unhandled("SIGTERM reached the handler outside main")

    monkeypatch.setitem(harness._COMMANDS, "status", terminated_midway)
    previous = signal.signal(signal.SIGTERM, guard)
    try:
        assert harness.main(["status", "--state-dir", str(tmp_path)]) == ExitCode.INTERRUPTED
        assert signal.getsignal(signal.SIGTERM) is guard  # main put the handler back
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert "interrupted" in capsys.readouterr().err


def test_main_builds_settings_from_the_argv_it_is_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command receives settings carrying main's argv and its --state-dir and --port-offset, not sys.argv's."""
    seen: list[HarnessSettings] = []

    def record(args: argparse.Namespace, settings: HarnessSettings) -> int:
        seen.append(settings)
        return ExitCode.OK

    monkeypatch.setitem(harness._COMMANDS, "status", record)
    monkeypatch.setattr("sys.argv", ["harness", "doctor"])
    argv = ["status", "--state-dir", str(tmp_path), "--port-offset", "5"]
    assert harness.main(argv) == ExitCode.OK
    assert seen[0].argv == tuple(argv) and seen[0].state_dir == tmp_path.resolve() and seen[0].port_offset == 5


def test_backend_is_parsed_into_the_closed_set_and_a_wrong_one_is_a_one_line_usage_error(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """--backend gives the command a BackendKind; an unknown name exits 2 naming the flag and the choices."""
    seen: list[object] = []

    def record(args: argparse.Namespace, settings: HarnessSettings) -> int:
        seen.append(args.backend)
        return ExitCode.OK

    monkeypatch.setitem(harness._COMMANDS, "status", record)
    assert harness.main(["status", "--backend", "docker"]) == ExitCode.OK
    assert seen == [BackendKind.DOCKER] and type(seen[0]) is BackendKind
    with pytest.raises(SystemExit) as exited:
        harness.main(["status", "--backend", "podman"])
    assert exited.value.code == ExitCode.USAGE
    err = capsys.readouterr().err.strip()
    assert err == "harness: error: argument --backend: invalid choice: 'podman' (choose from 'local', 'docker')"


@pytest.mark.parametrize(("argv", "message"), [
    (["run", "--workers", "-1"], "harness: --workers must be within 0..16, got -1"),
    (["run", "--out", "{file}"], "harness: --out {file}: exists and is not a directory"),
    (["run", "--junit", "{file}/junit.xml"], "harness: --junit {file}/junit.xml: {file} is not a directory"),
    (["bench", "--out", "{file}"], "harness: --out {file}: exists and is not a directory"),
])
def test_bad_run_and_bench_options_are_one_line_usage_errors_before_anything_starts(
        argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Checked with --dry-run's checks (nothing is started); a real start would fail the test loudly."""
    afile = tmp_path / "afile"
    afile.write_text("")

    def must_not_start(*args: object, **kwargs: object) -> None:
        raise AssertionError("the system was started")

    monkeypatch.setattr(harness, "ManagedSystem", must_not_start)
    words = [w.format(file=afile) for w in argv] + ["--state-dir", str(tmp_path / "state")]
    assert harness.main(words) == ExitCode.USAGE
    assert capsys.readouterr().err.strip() == message.format(file=afile)
