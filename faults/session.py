"""A fault session: injects faults through the right injector and guarantees they are reverted.

    with FaultSession(injectors, journal) as faults:     # SIGTERM raises inside the block
        faults.inject(Latency("vector-db", 300))
        ...                                            # success, failure, Ctrl-C or SIGTERM:
                                                       # every fault reverted, newest first

Reverts run with SIGINT/SIGTERM deferred, and a revert that fails does not stop the others; the
failures are reported together afterwards. Every inject and revert is journaled with both clocks.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import ExitStack
from types import TracebackType

from core.errors import FaultError, HarnessError
from core.interrupts import shielded, sigterm_raises
from core.journal import Journal

from .base import FaultHandle, FaultSpec, Injector


class FaultSession:
    def __init__(self, injectors: Sequence[Injector], journal: Journal) -> None:
        self._injectors = list(injectors)
        self._journal = journal
        self._active: list[FaultHandle] = []
        self._stack = ExitStack()

    @property
    def active(self) -> list[FaultHandle]:
        return [h for h in self._active if not h.reverted]

    def injector_for(self, spec: FaultSpec) -> Injector:
        for injector in self._injectors:
            if injector.supports(spec):
                return injector
        raise FaultError(f"no injector for {spec.kind!r} faults with this backend")

    def inject(self, spec: FaultSpec) -> FaultHandle:
        """Validate, inject and journal one fault; it will be reverted when the session ends."""
        spec.validate()
        injector = self.injector_for(spec)
        started = time.monotonic()
        handle = injector.inject(spec)
        self._active.append(handle)
        self._journal.record(
            "fault_injected",
            fault=spec.kind,
            target=spec.target,
            parameters=spec.parameters(),
            label=spec.describe(),
            call_s=round(time.monotonic() - started, 6),
        )
        return handle

    def revert(self, handle: FaultHandle) -> None:
        """Revert one fault now (idempotent) and journal it."""
        if handle.reverted:
            return
        started = time.monotonic()
        with shielded():
            handle.revert()
        self._journal.record(
            "fault_reverted",
            fault=handle.spec.kind,
            target=handle.spec.target,
            label=handle.spec.describe(),
            call_s=round(time.monotonic() - started, 6),
        )

    def revert_all(self) -> None:
        """Revert every active fault, newest first; raise one FaultError listing any that failed.

        Signals are held for the whole loop, not per fault: a Ctrl-C delivered between two reverts
        would otherwise leave the older faults in place."""
        failures: list[str] = []
        with shielded():
            for handle in reversed(self.active):
                try:
                    self.revert(handle)
                except (HarnessError, OSError) as exc:
                    failures.append(f"{handle.spec.describe()}: {exc}")
                    self._journal.record("fault_revert_failed", fault=handle.spec.kind, target=handle.spec.target,
                                         error=str(exc))
        if failures:
            raise FaultError("could not revert: " + "; ".join(failures))

    def __enter__(self) -> FaultSession:
        self._stack.enter_context(sigterm_raises())
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.revert_all()
        finally:
            self._stack.close()

