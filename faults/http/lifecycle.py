"""The HTTP fault proxy's lifecycle: start it on loopback, wait until it answers, record it, stop it.

    start_proxy()   control port free        -> spawn ``python -m faults.http.server`` in its own session
                                                -> poll GET /version until it names our server
                    taken by our proxy       -> reuse it (owned when it is the recorded process)
                    taken by anything else   -> HttpFaultProxyError, before anything is spawned
    stop_proxy()    SIGTERM, then SIGKILL after a grace period, to exactly the recorded process

Like ``faults.toxiproxy_server``: a started proxy is a ``core.processes.ProcessRecord`` (PID plus the
kernel's start time) kept in the state directory (``StateFile``), so ``harness down`` in another
process, even after a crash, stops that very process and never a PID that has since been reused. The
proxy keeps routes and faults in memory only; the harness re-creates routes with PUT and clears faults
with POST /reset, so a restarted proxy needs nothing from disk. It always runs on the host, also with
the Docker backend (containers share the host's network).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core import daemons
from core.errors import HttpFaultProxyError
from core.ports import port_is_free
from core.processes import ProcessRecord, is_running, terminate
from core.settings import HTTP_FAULT_PROXY_PORT
from core.state import StateFile

from .client import SERVER_NAME, HttpFaultClient, HttpFaultProxyAPIError, HttpFaultProxyUnreachable

SERVICE_NAME = "http-fault-proxy"  # the name its ProcessRecord carries in the state file
STATE_FILE = "http-fault-proxy.json"  # beside toxiproxy.json in the state directory
MODULE = "faults.http.server"


def control_port(port_offset: int = 0) -> int:
    """The control API port of a run: 8475 shifted like every other port of the run."""
    return HTTP_FAULT_PROXY_PORT + port_offset


def state_file(state_dir: Path) -> StateFile:
    return StateFile(state_dir / STATE_FILE)


def probe(url: str, timeout_s: float = 1.0) -> str | None:
    """The version of the HTTP fault proxy answering at ``url``; None when nothing accepts connections
    there. Raises HttpFaultProxyError when something answers that is not our proxy."""
    try:
        with HttpFaultClient(url, timeout_s=timeout_s) as client:
            name, version = client.version()
    except HttpFaultProxyUnreachable:
        return None
    except HttpFaultProxyAPIError as exc:
        raise HttpFaultProxyError(
            f"{url} is not the HTTP fault proxy ({exc.detail}); stop what listens there or change the port offset"
        ) from None
    if name != SERVER_NAME:
        raise HttpFaultProxyError(
            f"{url} answers as {name!r}, not {SERVER_NAME!r}; stop what listens there or change the port offset"
        )
    return version


@dataclass(frozen=True)
class ProxyConfig:
    """How to run one HTTP fault proxy: ``python`` runs ``faults.http.server`` from ``project_root``."""

    python: str
    project_root: Path
    log_path: Path
    host: str = "127.0.0.1"
    port: int = HTTP_FAULT_PROXY_PORT
    startup_timeout_s: float = 15.0
    stop_grace_s: float = 5.0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        return [self.python, "-m", MODULE, "--host", self.host, "--port", str(self.port), "--log", str(self.log_path)]


class RunningProxy(daemons.RunningDaemon):
    """An HTTP fault proxy that answers at ``url`` (see ``core.daemons.RunningDaemon``)."""


def start_proxy(config: ProxyConfig, recorded: ProcessRecord | None = None,
                on_spawn: Callable[[ProcessRecord], None] | None = None) -> RunningProxy:
    """Start the proxy on ``config.host:config.port`` and wait until ``GET /version`` answers, or reuse
    the proxy already answering there. ``recorded`` is the record a previous ``harness up`` saved: when
    that very process still runs and answers, it stays ours (owned, stopped by ``stop``). ``on_spawn``
    records a started one at once (``core.daemons.spawn``)."""
    if not port_is_free(config.host, config.port):
        version = probe(config.url)
        if version is None:
            raise HttpFaultProxyError(
                f"port {config.host}:{config.port} for the HTTP fault proxy's control API is taken by something "
                "that does not answer HTTP; stop it or change the port offset"
            )
        mine = recorded is not None and recorded.port == config.port and is_running(recorded)
        return RunningProxy(config.url, version, record=recorded if mine else None)
    process, record = daemons.spawn(SERVICE_NAME, config.command(), config.port, config.log_path,
                                    HttpFaultProxyError, cwd=config.project_root, on_spawn=on_spawn)
    proxy = RunningProxy(config.url, "", record, process)
    try:
        proxy.version = daemons.wait_ready(
            process, lambda: probe(config.url, timeout_s=1.0), label="the HTTP fault proxy",
            what=f"GET {config.url}/version", timeout_s=config.startup_timeout_s, log_path=config.log_path,
            error=HttpFaultProxyError)
    except BaseException:
        proxy.stop(config.stop_grace_s)
        raise
    return proxy


def stop_proxy(record: ProcessRecord, grace_s: float = 5.0) -> None:
    """Stop a recorded proxy by PID (no-op when it is gone or the PID now belongs to another process)."""
    terminate(record, grace_s)
