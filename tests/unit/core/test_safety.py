"""Where the harness may send traffic: loopback, or hosts the user allowed by name."""

from __future__ import annotations

import pytest

from core.errors import ExitCode, UsageError
from core.safety import check_host, is_loopback


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1.2.3", "localhost", "LOCALHOST", "::1"])
def test_loopback_accepts_local_hosts(host: str) -> None:
    """Loopback addresses and the name localhost count as this machine."""
    assert is_loopback(host)
    check_host(host, (), "faults")


@pytest.mark.parametrize("host", ["10.0.0.1", "0.0.0.0", "example.com", "localhost.example.com", "::"])
def test_other_hosts_are_refused_unless_allowed(host: str) -> None:
    """Anything else, including names that might resolve to loopback, needs --allow-host, and says so."""
    assert not is_loopback(host)
    with pytest.raises(UsageError, match=f"--allow-host {host}") as info:
        check_host(host, (), "load and faults")
    assert info.value.exit_code == ExitCode.USAGE
    check_host(host, (host,), "load and faults")
