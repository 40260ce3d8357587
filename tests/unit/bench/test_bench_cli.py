"""``harness bench``'s command line: bad usage is refused with exit code 2 before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

import harness
from core.errors import ExitCode


def test_suite_results_without_results_json_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--suite-results must name a run directory; otherwise exit 2 with one line naming the option."""
    code = harness.main(["bench", "--quick", "--suite-results", str(tmp_path), "--out", str(tmp_path / "out")])
    assert code == ExitCode.USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--suite-results" in err
    assert not (tmp_path / "out").exists()


def test_unknown_bench_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """An option bench does not know exits 2 with argparse's one-line message."""
    with pytest.raises(SystemExit) as exit_info:
        harness.main(["bench", "--fastest"])
    assert exit_info.value.code == ExitCode.USAGE
    assert "--fastest" in capsys.readouterr().err
