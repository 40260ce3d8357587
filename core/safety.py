"""Where the harness may send traffic: this machine, unless the user names another host.

Load and faults are attacks by design; aimed at the wrong address they are an incident. So every
address the harness would send to (the topology's host, the load target) passes ``check_host``, which
allows loopback (127.0.0.0/8, ::1, localhost) and only the hosts the user listed with ``--allow-host``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from .errors import UsageError


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1; names other than localhost are not resolved."""
    if host.lower() in {"localhost", "localhost."}:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_host(host: str, allow_hosts: Iterable[str], what: str) -> None:
    """Refuse ``host`` unless it is loopback or explicitly allowed; ``what`` says who wanted it."""
    if not is_loopback(host) and host not in set(allow_hosts):
        raise UsageError(
            f"refusing to send {what} to {host!r}: only loopback hosts (127.0.0.0/8, localhost, ::1) are "
            f"allowed; pass --allow-host {host} to allow it explicitly"
        )
