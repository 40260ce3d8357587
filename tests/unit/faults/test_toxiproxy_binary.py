"""Finding toxiproxy-server: configured path, then the project's .tools/bin, then PATH; else a clear error."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from core.errors import ExitCode, ToxiproxyError
from faults.toxiproxy_server import api_port, find_binary


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_find_binary_missing_everywhere_says_run_setup(tmp_path: Path) -> None:
    """With no binary anywhere the error (exit code 3) tells the user to run scripts/setup.sh."""
    with pytest.raises(ToxiproxyError, match="scripts/setup.sh") as caught:
        find_binary(tmp_path, search_path=str(tmp_path / "empty"))
    assert caught.value.exit_code == ExitCode.INFRASTRUCTURE


def test_find_binary_prefers_configured_then_tools_then_path(tmp_path: Path) -> None:
    """The configured path wins over .tools/bin, which wins over PATH."""
    on_path = executable(tmp_path / "path" / "toxiproxy-server")
    assert find_binary(tmp_path, search_path=str(on_path.parent)) == on_path
    tools = executable(tmp_path / ".tools" / "bin" / "toxiproxy-server")
    assert find_binary(tmp_path, search_path=str(on_path.parent)) == tools
    configured = executable(tmp_path / "custom" / "tp")
    assert find_binary(tmp_path, str(configured), search_path=str(on_path.parent)) == configured


def test_find_binary_configured_but_not_executable_is_refused(tmp_path: Path) -> None:
    """A configured path that is missing or not executable is an error, not a silent fallback."""
    plain = tmp_path / "toxiproxy-server"
    plain.write_text("")
    for configured in (plain, tmp_path / "missing"):
        with pytest.raises(ToxiproxyError, match="HARNESS_TOXIPROXY_BIN"):
            find_binary(tmp_path, str(configured))


def test_api_port_follows_the_port_offset() -> None:
    """The API port shifts with the run's port offset like every other port."""
    assert (api_port(), api_port(100)) == (8474, 8574)
