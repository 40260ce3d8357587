"""The harness's settings: the one place that reads the environment, frozen once built.

Command-line options override environment variables, which override defaults; the CLI builds one
``HarnessSettings`` from the ``argv`` it was given and passes it down (nothing else reads ``sys.argv``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import UsageError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TOXIPROXY_API_PORT = 8474  # the default API port; like every port of a run it moves with the port offset
HTTP_FAULT_PROXY_PORT = 8475  # the HTTP fault proxy's control API, beside Toxiproxy's; moves likewise
PROMETHEUS_PORT = 9090  # the Prometheus that --monitoring starts (web UI and API); moves likewise


@dataclass(frozen=True)
class HarnessSettings:
    project_root: Path
    state_dir: Path
    python: str
    port_offset: int = 0
    startup_timeout_s: float = 30.0
    stop_grace_s: float = 10.0
    toxiproxy_bin: str | None = None
    # Monitoring (--monitoring): Prometheus's binary, how often the alert timeline polls its API, and a
    # test seam that replaces every alert rule's ``for:`` in the copies Prometheus loads (never the files).
    prometheus_bin: str | None = None
    alert_poll_s: float = 0.2
    alert_for_override_s: float | None = None
    # The system under test's HTTP contract (system.client): how long each kind of call may take. The
    # observer polls /status at 10 Hz, so a slow answer there is a sample with an error, not a stall.
    status_poll_timeout_s: float = 0.5
    status_timeout_s: float = 2.0  # one /status read (harness status, benchmarks)
    chat_timeout_s: float = 40.0  # longer than any deadline the system may give one answer
    metrics_timeout_s: float = 2.0
    probe_timeout_s: float = 1.0
    # The command line's words after the program name, as given to the CLI: recorded (bench metadata,
    # crash logs), never parsed again.
    argv: tuple[str, ...] = ()

    @property
    def state_file(self) -> Path:
        return self.state_dir / "state.json"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> HarnessSettings:
        """Defaults plus ``HARNESS_*`` variables: state directory, interpreter, port offset."""
        env = os.environ if env is None else env
        root = PROJECT_ROOT
        state_dir = Path(env.get("HARNESS_STATE_DIR") or root / ".harness")
        offset_raw = env.get("HARNESS_PORT_OFFSET", "0") or "0"
        try:
            offset = int(offset_raw)
        except ValueError:
            raise UsageError(f"HARNESS_PORT_OFFSET={offset_raw!r} is not an integer") from None
        return cls(
            project_root=root,
            state_dir=state_dir.resolve(),
            python=env.get("HARNESS_PYTHON") or sys.executable,
            port_offset=offset,
            toxiproxy_bin=env.get("HARNESS_TOXIPROXY_BIN") or None,
            prometheus_bin=env.get("HARNESS_PROMETHEUS_BIN") or None,
            alert_for_override_s=_seconds(env, "HARNESS_ALERT_FOR_S"),
        )

    def with_overrides(self, *, port_offset: int | None = None, state_dir: Path | None = None,
                       argv: Sequence[str] | None = None) -> HarnessSettings:
        """These settings with the command line's options applied."""
        out = self
        if port_offset is not None:
            out = replace(out, port_offset=port_offset)
        if state_dir is not None:
            out = replace(out, state_dir=state_dir.resolve())
        if argv is not None:
            out = replace(out, argv=tuple(argv))
        return out


def _seconds(env: Mapping[str, str], name: str) -> float | None:
    """An optional non-negative number of seconds from the environment; a bad one names the variable."""
    raw = env.get(name) or ""
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"{name}={raw!r} is not a number of seconds") from None
    if value < 0:
        raise UsageError(f"{name}={raw!r} must not be negative")
    return value
