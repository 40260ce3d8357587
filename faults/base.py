"""The one small fault interface: a frozen spec, an injector, and a live handle that can be reverted.

A spec says *what* to break and is validated before anything touches the system, so a typo never
leaves half a fault behind. An injector turns a spec into a handle; the handle's ``revert()`` is
idempotent, so the session can call it from ``finally``, a signal handler and stale-fault cleanup
without caring which ran first.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, ClassVar, Protocol

from core.errors import FaultParameterError


class Direction(StrEnum):
    """Which way the bytes flow that a network fault affects (from the caller's point of view)."""

    UPSTREAM = "upstream"  # caller -> dependency (requests)
    DOWNSTREAM = "downstream"  # dependency -> caller (responses)
    BOTH = "both"


@dataclass(frozen=True)
class FaultSpec:
    """What to break. Subclasses add their parameters and check them in ``validate``."""

    target: str
    kind: ClassVar[str] = "fault"

    def validate(self) -> None:
        """Raise ``FaultParameterError`` naming the parameter when a value is out of range."""
        if not self.target:
            raise FaultParameterError(self.kind, "target", "must name a service or edge")

    def describe(self) -> str:
        """A short human label for timelines and reports, e.g. ``latency 300ms±10 on vector-db``."""
        params = ", ".join(f"{k}={v}" for k, v in self.parameters().items())
        return f"{self.kind} on {self.target}" + (f" ({params})" if params else "")

    def parameters(self) -> dict[str, Any]:
        """The spec's parameters (without the target), for the journal."""
        data = asdict(self)
        data.pop("target")
        return {k: (v.value if isinstance(v, StrEnum) else v) for k, v in data.items()}

    # -- helpers for validate() ------------------------------------------------------------------

    def _require(self, ok: bool, parameter: str, message: str) -> None:
        if not ok:
            raise FaultParameterError(self.kind, parameter, message)


class FaultHandle(ABC):
    """A fault that is in place. ``revert()`` puts things back and may be called any number of times."""

    def __init__(self, spec: FaultSpec) -> None:
        self.spec = spec
        self._reverted = False

    @property
    def reverted(self) -> bool:
        return self._reverted

    def revert(self) -> None:
        if self._reverted:
            return
        self._revert()
        self._reverted = True

    @abstractmethod
    def _revert(self) -> None:
        """Undo the fault; called at most once by ``revert()``."""


class Injector(Protocol):
    """Puts faults of the kinds it knows into place."""

    def supports(self, spec: FaultSpec) -> bool: ...

    def inject(self, spec: FaultSpec) -> FaultHandle: ...
