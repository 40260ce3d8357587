"""Waiting for a service to start: the one startup-probe loop both backends use.

    until the deadline:  gone?  -> ServiceStartError(why it is gone, its log)
                         probe  -> 2xx: started
                         sleep 50 ms
    deadline passed:     ServiceStartError("startup probe URL did not pass within Ns", its log)

A local process and a container differ only in how the harness learns the service is gone (the
child's exit code, the PID's start time, the engine's container status) and where its output is (a
log file, or the container's logs saved on failure), so each backend passes those two in and the
probe, its timeouts and the error messages stay the same for both.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from core.errors import ServiceStartError

_POLL_S = 0.05


def wait_started(service: str, url: str, timeout_s: float, gone: Callable[[], str | None],
                 log: Callable[[], str]) -> None:
    """Poll the startup probe ``url`` until it answers below 300, for at most ``timeout_s``.

    ``gone()`` is asked before each probe and says why the service is no longer there (None while it
    is); ``log()`` is asked only on failure, for the path of the service's output to name in the error."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=1.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            reason = gone()
            if reason is not None:
                raise ServiceStartError(service, reason, log())
            try:
                if client.get(url).status_code < 300:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(_POLL_S)
    raise ServiceStartError(service, f"startup probe {url} did not pass within {timeout_s:g}s", log())
