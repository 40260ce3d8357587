"""Background readiness probes of each dependency: availability without a health check per request.

Checking a dependency's health before every request doubles the calls and the latency (the design
page's flaw 3). Instead one task probes each dependency's ``/health/ready`` every ``interval_s`` and
keeps a verdict; a request skips a dependency that failed ``unhealthy_after`` probes in a row, or whose
breaker is open. The breaker reacts within milliseconds under traffic; the probe covers the idle system
and tells the operator whether the dependency itself thinks it is ready.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .client import DependencyClient

_log = logging.getLogger(__name__)


@dataclass
class ProbeVerdict:
    healthy: bool = True
    consecutive_failures: int = 0
    last_error: str | None = None
    probes: int = 0


class HealthMonitor:
    """Probes dependencies forever; ``started`` is set after the first complete round."""

    def __init__(
        self,
        clients: Sequence[DependencyClient],
        *,
        interval_s: float,
        timeout_s: float | None,
        unhealthy_after: int,
        on_change: Callable[[], None],
    ) -> None:
        self._clients = list(clients)
        self._interval_s = interval_s
        self._timeout_s = timeout_s
        self._unhealthy_after = unhealthy_after
        self._on_change = on_change
        self.verdicts = {client.name: ProbeVerdict() for client in clients}
        self.started = asyncio.Event()

    def healthy(self, name: str) -> bool:
        return self.verdicts[name].healthy

    async def run(self) -> None:
        """Probe every dependency concurrently, once per interval, until cancelled."""
        while True:
            await asyncio.gather(*(self._probe(client) for client in self._clients))
            self.started.set()
            await asyncio.sleep(self._interval_s)

    async def _probe(self, client: DependencyClient) -> None:
        timeout = self._timeout_s if self._timeout_s is not None else client.settings.attempt_timeout_s
        error = await client.probe("/health/ready", timeout)
        verdict = self.verdicts[client.name]
        verdict.probes += 1
        was_healthy = verdict.healthy
        if error is None:
            verdict.consecutive_failures = 0
            verdict.healthy = True
        else:
            verdict.consecutive_failures += 1
            verdict.last_error = error
            verdict.healthy = verdict.consecutive_failures < self._unhealthy_after
        if verdict.healthy != was_healthy:
            _log.warning(
                "dependency probe verdict changed",
                extra={"dependency": client.name, "healthy": verdict.healthy, "error": error},
            )
            self._on_change()
