"""The Prometheus server's lifecycle: find it, start it on loopback, wait until ready, stop it by PID.

    find_binary()   HARNESS_PROMETHEUS_BIN -> PATH -> /usr/bin (Debian's package, scripts/setup.sh)
    start_server()  port free -> spawn in its own session -> poll GET /-/ready (config and rules loaded)
                    port taken -> PrometheusError before anything is spawned (stop it, or --port-offset)
    stop_server()   SIGTERM, then SIGKILL after a grace period, to exactly the recorded process

Like Toxiproxy's (``faults/toxiproxy_server.py``), a started server is a ``ProcessRecord`` (PID plus the
kernel's start time) kept in a state file, so ``harness down`` or the next run, even after a crash,
stops that very process and never a PID that has since been reused.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core import daemons
from core.errors import PrometheusError
from core.ports import port_is_free
from core.processes import ProcessRecord, terminate

from .client import PrometheusClient

SERVICE_NAME = "prometheus"  # the name its ProcessRecord carries
_SETUP_HINT = "run scripts/setup.sh (it installs Debian's prometheus package), or set HARNESS_PROMETHEUS_BIN"


def find_binary(configured: str | None = None, name: str = "prometheus", search_path: str | None = None) -> Path:
    """``prometheus`` (or ``promtool``): beside a configured prometheus, else on PATH, else in /usr/bin."""
    if configured:
        path = Path(configured).expanduser()
        if name != "prometheus":
            path = path.with_name(name)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise PrometheusError(f"HARNESS_PROMETHEUS_BIN={configured!r}: {path} is not an executable file; {_SETUP_HINT}")
        return path
    found = shutil.which(name, path=search_path)
    if found:
        return Path(found)
    fallback = Path("/usr/bin") / name
    if search_path is None and fallback.is_file() and os.access(fallback, os.X_OK):
        return fallback
    raise PrometheusError(f"{name} not found on PATH or in /usr/bin; {_SETUP_HINT}")


@dataclass(frozen=True)
class ServerConfig:
    binary: Path
    config_file: Path
    data_dir: Path
    log_path: Path
    host: str = "127.0.0.1"
    port: int = 9090
    startup_timeout_s: float = 30.0
    stop_grace_s: float = 5.0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        return [str(self.binary), f"--config.file={self.config_file}", f"--storage.tsdb.path={self.data_dir}",
                f"--web.listen-address={self.host}:{self.port}", "--storage.tsdb.retention.time=7d",
                # The run's own server has no Alertmanager; its alerts are read from the API.
                "--log.level=info"]


class RunningServer:
    def __init__(self, config: ServerConfig, record: ProcessRecord, process: subprocess.Popen[bytes]) -> None:
        self.config, self.record = config, record
        self._process = process  # kept so the child is reaped, not left a zombie

    def stop(self) -> None:
        """Stop it (idempotent)."""
        stop_server(self.record, self.config.stop_grace_s)
        daemons.reap(self._process)


def start_server(config: ServerConfig, on_spawn: Callable[[ProcessRecord], None] | None = None) -> RunningServer:
    """Start Prometheus and wait until ``/-/ready`` answers 200; stop it again if it never does.
    ``on_spawn`` records it at once (``core.daemons.spawn``), before it is ready."""
    if not port_is_free(config.host, config.port):
        raise PrometheusError(f"port {config.host}:{config.port} for Prometheus is taken: stop what listens there "
                              "('harness down' stops a Prometheus the harness started) or pass --port-offset")
    config.data_dir.mkdir(parents=True, exist_ok=True)
    process, record = daemons.spawn(SERVICE_NAME, config.command(), config.port, config.log_path,
                                    lambda message: PrometheusError(f"{message}; {_SETUP_HINT}"), cwd=config.data_dir,
                                    on_spawn=on_spawn)
    server = RunningServer(config, record, process)
    try:
        with PrometheusClient(config.url, timeout_s=1.0) as client:
            daemons.wait_ready(process, lambda: True if client.ready() else None, label="prometheus",
                               what=f"{config.url}/-/ready", timeout_s=config.startup_timeout_s,
                               log_path=config.log_path, error=PrometheusError, poll_s=0.05)
    except BaseException:
        server.stop()
        raise
    return server


def stop_server(record: ProcessRecord, grace_s: float = 5.0) -> None:
    """Stop a recorded server by PID (no-op when it is gone or the PID now belongs to another process)."""
    terminate(record, grace_s)
