"""Output paths from the command line are checked before a run starts, and nothing is created."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ExitCode, UsageError
from core.output_paths import check_output_dir, check_output_file


def test_a_missing_directory_under_a_writable_one_passes_and_is_not_created(tmp_path: Path) -> None:
    """--out a/b/c may name folders still to be made; checking it makes none of them."""
    check_output_dir("--out", tmp_path / "a" / "b" / "c")
    check_output_dir("--out", tmp_path)
    check_output_file("--junit", tmp_path / "x" / "junit.xml")
    assert list(tmp_path.iterdir()) == []


def test_an_output_directory_that_is_a_file_names_the_flag_and_the_path(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    with pytest.raises(UsageError) as info:
        check_output_dir("--out", tmp_path / "afile")
    assert str(info.value) == f"--out {tmp_path / 'afile'}: exists and is not a directory"
    assert info.value.exit_code == ExitCode.USAGE


def test_an_output_under_a_regular_file_names_that_file(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    with pytest.raises(UsageError, match=f"--junit {tmp_path}/afile/x/j.xml: {tmp_path}/afile is not a directory"):
        check_output_file("--junit", tmp_path / "afile" / "x" / "j.xml")
    with pytest.raises(UsageError, match="afile is not a directory"):
        check_output_dir("--out", tmp_path / "afile" / "run")


def test_an_output_file_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is a directory, give a file name"):
        check_output_file("--junit", tmp_path)


def test_an_unwritable_directory_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Permissions are asked of the OS (os.access); here it answers no, as it would for a read-only folder."""
    monkeypatch.setattr("core.output_paths.os.access", lambda path, mode: False)
    with pytest.raises(UsageError, match=f"--out {tmp_path}: the directory is not writable"):
        check_output_dir("--out", tmp_path)
    with pytest.raises(UsageError, match=f"cannot create it, {tmp_path} is not writable"):
        check_output_file("--out", tmp_path / "compare.html")
