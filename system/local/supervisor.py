"""Starting and stopping the services of a topology as local processes.

    up:   clean stale state -> check ports -> start each service (dependencies first)
          -> wait for its startup probe -> record pid + start time in the state file
    down: read the state file -> SIGTERM (+SIGCONT, then SIGKILL) each recorded process -> forget it

The state file lets ``harness down`` (another process, maybe after a crash of the one that started
them) find and stop exactly the processes the harness started, by PID, and nothing else.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping

from core.daemons import spawn
from core.errors import PortInUseError, ServiceStartError
from core.interrupts import shielded
from core.ports import wait_port_free
from core.processes import ProcessRecord, is_running, terminate, wait_gone
from core.settings import HarnessSettings
from core.state import StateFile
from core.topology import Service, Topology
from system.probes import wait_started


def _gone_reason(record: ProcessRecord) -> Callable[[], str | None]:
    """For ``_wait_started`` on a process another run started (not our child: no exit code to read)."""
    return lambda: None if is_running(record) else f"pid {record.pid} exited while starting"


class LocalSupervisor:
    """Runs a topology's services as local processes, one session (process group) each."""

    def __init__(
        self,
        topology: Topology,
        settings: HarnessSettings,
        routes: Mapping[str, str] | None = None,
        overrides: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        """``routes`` maps an edge's name to the ``host:port`` its caller should use (a proxy); by
        default each caller talks to its callee directly. ``overrides`` adds environment variables
        per service (scenarios and tests shrink timeouts this way)."""
        self.topology = topology
        self.settings = settings
        self.state = StateFile(settings.state_file)
        self._routes = dict(routes or {})
        self._overrides = {name: dict(env) for name, env in (overrides or {}).items()}
        # Popen handles of the processes this object started: kept so they are reaped, not leaked.
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    def address(self, service: str) -> str:
        return f"http://{self.topology.host}:{self.topology.service(service).port}"

    def environment(self, service: Service) -> dict[str, str]:
        """The service's environment: ours, the topology's (placeholders filled) and its edges."""
        values = {"python": self.settings.python, "host": self.topology.host, "port": str(service.port)}
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        env.update({key: value.format(**values) for key, value in service.env.items()})
        for edge in self.topology.edges:
            if edge.source == service.name:
                callee = self.topology.service(edge.target)
                target = self._routes.get(edge.name, f"{self.topology.host}:{callee.port}")
                env[edge.env] = f"http://{target}"
        env.update(self._overrides.get(service.name, {}))
        return env

    def running(self) -> dict[str, ProcessRecord]:
        """The recorded processes that are still alive."""
        for name, child in list(self._children.items()):
            if child.poll() is not None:  # reap children killed behind our back (faults, crashes)
                del self._children[name]
        return {name: rec for name, rec in self.state.load().items() if is_running(rec)}

    def start_all(self) -> dict[str, ProcessRecord]:
        """Start every service not already running, dependencies first; stop what started on failure.

        A recorded service that runs is waited for until its startup probe passes: a harness killed
        while it started one leaves it starting (and recorded), and it is adopted once ready."""
        recorded = self.state.load()
        records = self.running()
        for name, dead in recorded.items():
            if name not in records:
                wait_gone(dead, self.settings.stop_grace_s)  # a just-killed process may still hold its port
        self.state.save(records)  # forget the dead ones
        for service in self.topology.start_order():
            try:
                adopted = records.get(service.name)
                if adopted is not None:
                    self._wait_started(service, _gone_reason(adopted), adopted.log)
                    continue
                records[service.name] = self.start(service)
            except BaseException:
                self.stop_all()
                raise
        return records

    def ensure_running(self, name: str) -> ProcessRecord:
        """Start one recorded service again if it is not running (after a kill or stop fault)."""
        records = self.state.load()
        current = records.get(name)
        if current is not None and is_running(current):
            return current
        if current is not None:
            wait_gone(current, self.settings.stop_grace_s)
        return self.start(self.topology.service(name))

    def start(self, service: Service) -> ProcessRecord:
        """Start one service and wait until its startup probe passes. It is in the state file from the
        moment it exists, so a harness killed meanwhile leaves a record to stop it by; it is stopped
        and forgotten again when it never passes."""
        host = self.topology.host
        if not wait_port_free(host, service.port, timeout_s=3.0):
            raise PortInUseError(service.name, host, service.port)
        log_path = self.settings.log_dir / f"{service.name}.log"
        values = {"python": self.settings.python, "host": host, "port": str(service.port)}
        command = [part.format(**values) for part in service.command]
        proc, record = spawn(service.name, command, service.port, log_path,
                             lambda reason: ServiceStartError(service.name, reason),
                             cwd=self.settings.project_root, env=self.environment(service), on_spawn=self._remember)
        previous = self._children.pop(service.name, None)
        if previous is not None:
            previous.poll()
        self._children[service.name] = proc
        try:
            self._wait_started(service, lambda: None if (code := proc.poll()) is None else f"exited with code {code}",
                               str(log_path))
        except BaseException:
            with shielded():
                self._terminate(record)
                self._forget(record)
            raise
        return record

    def _remember(self, record: ProcessRecord) -> None:
        records = self.state.load()
        records[record.service] = record
        self.state.save(records)

    def _forget(self, record: ProcessRecord) -> None:
        records = self.state.load()
        if records.get(record.service) == record:
            del records[record.service]
            self.state.save(records)

    def _terminate(self, record: ProcessRecord) -> None:
        terminate(record, self.settings.stop_grace_s)
        child = self._children.pop(record.service, None)
        if child is not None:
            try:
                child.wait(timeout=5.0)  # it is dead or dying: this only collects its exit status
            except subprocess.TimeoutExpired:
                pass

    def _wait_started(self, service: Service, exited: Callable[[], str | None], log: str) -> None:
        """Poll the startup probe until it passes; ``exited()`` says why the process is gone, if it is."""
        url = f"http://{self.topology.host}:{service.port}{service.probes.startup}"
        timeout = min(service.startup_timeout_s, self.settings.startup_timeout_s)
        wait_started(service.name, url, timeout, exited, lambda: log)

    def stop(self, name: str) -> None:
        """Stop one recorded service (if it runs) and forget it."""
        records = self.state.load()
        record = records.pop(name, None)
        if record is not None:
            self._terminate(record)
        self.state.save(records)

    def stop_all(self) -> list[str]:
        """Stop every recorded service, callers first; return the names that were running."""
        records = self.state.load()
        order = [s.name for s in reversed(self.topology.start_order()) if s.name in records]
        order += [name for name in records if name not in order]
        stopped: list[str] = []
        left: dict[str, ProcessRecord] = {}
        try:
            # Shielded: a second Ctrl-C or SIGTERM while stopping must not leave the rest running.
            with shielded():
                for name in order:
                    if is_running(records[name]):
                        stopped.append(name)
                    self._terminate(records[name])
        finally:
            left = {n: r for n, r in records.items() if n not in stopped and is_running(r)}
            self.state.save(left)  # whatever still runs stays recorded, so the next run can clean it
        for child in self._children.values():
            child.poll()
        self._children.clear()
        return stopped
