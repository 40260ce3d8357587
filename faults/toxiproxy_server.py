"""The Toxiproxy server's lifecycle: find the binary, start it on loopback, wait until it answers, stop it.

    find_binary()    configured path (HARNESS_TOXIPROXY_BIN) -> .tools/bin/toxiproxy-server -> PATH
    start_server()   API port free            -> spawn in its own session -> poll GET /version
                     taken by a Toxiproxy     -> reuse it; it is not ours, so nothing will stop it
                     taken by anything else   -> ToxiproxyError, before anything is spawned
    stop_server()    SIGTERM, then SIGKILL after a grace period, to exactly the recorded process

A started server is described by a ``core.processes.ProcessRecord`` (PID plus kernel start time), so
``harness down`` in another process, even after a crash, stops that process and never a PID that has
since been reused. The server logs JSON lines at level ``info`` (one line per accepted connection):
without ``LOG_LEVEL`` it logs at trace level, every toxic pipe event, faster than anyone reads it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core import daemons
from core.errors import ToxiproxyError
from core.ports import port_is_free
from core.processes import ProcessRecord, is_running, terminate
from core.settings import TOXIPROXY_API_PORT

from .toxiproxy import ToxiproxyAPIError, ToxiproxyClient, ToxiproxyUnreachable

BINARY_NAME = "toxiproxy-server"
EXPECTED_VERSION = "2.12.0"
DEFAULT_API_PORT = TOXIPROXY_API_PORT
SERVICE_NAME = "toxiproxy"  # the name its ProcessRecord carries in the harness's state file
_SETUP_HINT = "run scripts/setup.sh (it builds toxiproxy-server into .tools/bin)"


def find_binary(project_root: Path, configured: str | None = None, search_path: str | None = None) -> Path:
    """The toxiproxy-server to run: the configured one if given (it must exist), else the project's
    ``.tools/bin`` copy, else the first on ``search_path`` (default: PATH)."""
    if configured:
        path = Path(configured).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ToxiproxyError(f"HARNESS_TOXIPROXY_BIN={configured!r} is not an executable file; {_SETUP_HINT}")
        return path
    local = project_root / ".tools" / "bin" / BINARY_NAME
    if local.is_file() and os.access(local, os.X_OK):
        return local
    found = shutil.which(BINARY_NAME, path=search_path)
    if found:
        return Path(found)
    raise ToxiproxyError(f"{BINARY_NAME} not found in {local.parent} or on PATH; {_SETUP_HINT}")


def api_port(port_offset: int = 0) -> int:
    """The API port for a run: the default shifted like every other port of the run."""
    return DEFAULT_API_PORT + port_offset


def probe(url: str, timeout_s: float = 1.0) -> str | None:
    """The version of the Toxiproxy answering at ``url``; None when nothing accepts connections there.
    Raises ToxiproxyError when something answers that is not a Toxiproxy."""
    try:
        with ToxiproxyClient(url, timeout_s=timeout_s) as client:
            return client.version()
    except ToxiproxyUnreachable:
        return None
    except ToxiproxyAPIError as exc:
        raise ToxiproxyError(f"{url} is not a Toxiproxy API ({exc.detail}); stop what listens there or change the port offset") from None


@dataclass(frozen=True)
class ServerConfig:
    """How to run one toxiproxy-server. ``port`` is the API port; proxies get their own ports."""

    binary: Path
    log_path: Path
    host: str = "127.0.0.1"
    port: int = DEFAULT_API_PORT
    startup_timeout_s: float = 10.0
    stop_grace_s: float = 5.0
    log_level: str = "info"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


class RunningServer(daemons.RunningDaemon):
    """A Toxiproxy server that answers at ``url`` (see ``core.daemons.RunningDaemon``)."""


def start_server(config: ServerConfig, recorded: ProcessRecord | None = None,
                 on_spawn: Callable[[ProcessRecord], None] | None = None) -> RunningServer:
    """Start toxiproxy-server on ``config.host:config.port`` and wait until ``GET /version`` answers,
    or reuse the Toxiproxy already answering there. ``recorded`` is the record a previous ``harness up``
    saved: when that very process still runs and answers, it stays ours (owned, stopped by ``stop``).
    ``on_spawn`` records a started one at once (``core.daemons.spawn``)."""
    if not port_is_free(config.host, config.port):
        version = probe(config.url)
        if version is not None and recorded is not None and recorded.port == config.port and is_running(recorded):
            return RunningServer(config.url, version, record=recorded)
        if version is None:
            raise ToxiproxyError(
                f"port {config.host}:{config.port} for the Toxiproxy API is taken by something that does not "
                "answer HTTP; stop it or change the port offset"
            )
        return RunningServer(config.url, version, record=None)
    # The metrics flags expose GET /metrics (per-proxy traffic, Go runtime) for Prometheus (--monitoring).
    command = [str(config.binary), "-host", config.host, "-port", str(config.port), "-proxy-metrics", "-runtime-metrics"]
    env = {**os.environ, "LOG_LEVEL": config.log_level}
    process, record = daemons.spawn(SERVICE_NAME, command, config.port, config.log_path,
                                    lambda message: ToxiproxyError(f"{message}; {_SETUP_HINT}"), env=env,
                                    on_spawn=on_spawn)
    server = RunningServer(config.url, "", record, process)
    try:
        server.version = daemons.wait_ready(
            process, lambda: probe(config.url, timeout_s=1.0), label=BINARY_NAME, what=f"GET {config.url}/version",
            timeout_s=config.startup_timeout_s, log_path=config.log_path, error=ToxiproxyError)
    except BaseException:
        server.stop(config.stop_grace_s)
        raise
    return server


def stop_server(record: ProcessRecord, grace_s: float = 5.0) -> None:
    """Stop a recorded server by PID (no-op when it is gone or the PID now belongs to another process)."""
    terminate(record, grace_s)
