"""Every error the harness raises on purpose, and the exit code each one maps to.

    HarnessError                      exit 1 unless a subclass says otherwise
    ├── FaultError                    a fault could not be injected or reverted
    ├── UsageError                    exit 2: bad command-line usage or input
    │   ├── ConfigError               exit 2: a file (topology, feature) is malformed; names file:line:key
    │   └── FaultParameterError       exit 2: a fault's parameter is invalid; names fault and parameter
    └── InfrastructureError           exit 3: something the run needs could not start or be reached
        ├── PortInUseError            a port the topology needs is taken
        ├── ServiceStartError         a service exited or never passed its startup probe
        ├── ToxiproxyError            the Toxiproxy server is missing, unreachable or refused a call
        │   └── (faults.toxiproxy) ToxiproxyAPIError > ToxiproxyUnreachable: an API call's status/detail
        ├── HttpFaultProxyError       the HTTP fault proxy is missing, unreachable or refused a call
        │   └── (faults.http.client) HttpFaultProxyAPIError > HttpFaultProxyUnreachable: status/field/detail
        ├── DockerError               the Docker engine is missing, unreachable or refused a call
        ├── PrometheusError           Prometheus is missing, unreachable, or could not answer a query
        ├── SystemUnreachable         the system under test did not answer a call of its HTTP contract
        └── MeasurementError          a number a verdict needs could not be read (the verdict is "error")

The CLI prints ``str(error)`` on one line and exits with ``error.exit_code``; no traceback reaches a user.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    INFRASTRUCTURE = 3
    INTERRUPTED = 130  # Ctrl-C or SIGTERM: faults reverted, partial results written (128 + SIGINT)


class HarnessError(Exception):
    """Root of the harness's own errors."""

    exit_code = ExitCode.FAILED


class UsageError(HarnessError):
    exit_code = ExitCode.USAGE


class ConfigError(UsageError):
    """A malformed input file; the message starts with ``path:line:`` when the line is known."""

    def __init__(self, path: str, message: str, line: int | None = None) -> None:
        self.path = path
        self.line = line
        location = f"{path}:{line}" if line is not None else path
        super().__init__(f"{location}: {message}")


class InfrastructureError(HarnessError):
    exit_code = ExitCode.INFRASTRUCTURE


class PortInUseError(InfrastructureError):
    def __init__(self, service: str, host: str, port: int) -> None:
        self.service, self.host, self.port = service, host, port
        super().__init__(
            f"port {host}:{port} needed by {service!r} is already in use "
            f"(stop what holds it, run 'harness down', or pass --port-offset)"
        )


class ServiceStartError(InfrastructureError):
    def __init__(self, service: str, reason: str, log: str | None = None) -> None:
        self.service = service
        hint = f" (see {log})" if log else ""
        super().__init__(f"service {service!r} did not start: {reason}{hint}")


class FaultError(HarnessError):
    """A fault could not be injected or reverted (the message says which and why)."""


class FaultParameterError(UsageError):
    """A fault parameter is out of range; refused before anything is sent."""

    def __init__(self, fault: str, parameter: str, message: str) -> None:
        self.fault, self.parameter = fault, parameter
        super().__init__(f"{fault}: parameter {parameter!r} {message}")


class ToxiproxyError(InfrastructureError):
    """The Toxiproxy server is missing, unreachable, or answered an API call with an error."""


class HttpFaultProxyError(InfrastructureError):
    """The HTTP fault proxy (``faults.http``) is missing, unreachable, or answered an API call with an error."""


class DockerError(InfrastructureError):
    """The Docker engine is missing, unreachable, or refused an operation."""


class PrometheusError(InfrastructureError):
    """Prometheus is missing, did not start, is unreachable, or refused a query (a measurement not taken)."""


class SystemUnreachable(InfrastructureError):
    """A call of the system under test's HTTP contract (``system.client``) got no usable answer.

    ``reason`` is the short name of what went wrong (``ConnectError``, ``ReadTimeout``,
    ``JSONDecodeError``, ``BadStatusBody``): the observer records it in each failed sample."""

    def __init__(self, url: str, reason: str, detail: str = "") -> None:
        self.url, self.reason, self.detail = url, reason, detail
        super().__init__(f"{url}: {reason}" + (f": {detail}" if detail else ""))


class MeasurementError(InfrastructureError):
    """A measurement a verdict needs could not be taken (a /metrics scrape failed, say): the scenario
    is an error, never a pass or a misleading fail."""
