"""The fault session: every fault reverted, newest first, on success, error, SIGTERM; failures reported."""

from __future__ import annotations

import os
import signal
import threading
from dataclasses import dataclass
from typing import ClassVar

import pytest

from core.errors import FaultError, FaultParameterError
from core.interrupts import Terminated
from core.journal import Journal
from faults.base import FaultHandle, FaultSpec
from faults.session import FaultSession


@dataclass(frozen=True)
class Toggle(FaultSpec):
    """A fault on a dict: sets target to True; reverting sets it back to False."""

    fail_revert: bool = False
    kind: ClassVar[str] = "toggle"


class ToggleHandle(FaultHandle):
    def __init__(self, spec: Toggle, world: dict[str, bool], order: list[str]) -> None:
        super().__init__(spec)
        self._world, self._order = world, order

    def _revert(self) -> None:
        assert isinstance(self.spec, Toggle)
        if self.spec.fail_revert:
            raise FaultError("cannot put it back")
        self._world[self.spec.target] = False
        self._order.append(self.spec.target)


class ToggleInjector:
    def __init__(self) -> None:
        self.world: dict[str, bool] = {}
        self.reverted: list[str] = []

    def supports(self, spec: FaultSpec) -> bool:
        return isinstance(spec, Toggle)

    def inject(self, spec: FaultSpec) -> FaultHandle:
        assert isinstance(spec, Toggle)
        self.world[spec.target] = True
        return ToggleHandle(spec, self.world, self.reverted)


def test_session_reverts_every_fault_newest_first_on_success() -> None:
    """Leaving the block reverts all faults in reverse order of injection."""
    injector, journal = ToggleInjector(), Journal()
    with FaultSession([injector], journal) as faults:
        faults.inject(Toggle("a"))
        faults.inject(Toggle("b"))
        assert injector.world == {"a": True, "b": True}
    assert injector.world == {"a": False, "b": False}
    assert injector.reverted == ["b", "a"]
    assert [e.type for e in journal.events] == ["fault_injected"] * 2 + ["fault_reverted"] * 2


def test_session_reverts_when_the_block_raises() -> None:
    """An exception in the block still reverts the faults, and the exception propagates."""
    injector = ToggleInjector()
    with pytest.raises(RuntimeError):
        with FaultSession([injector], Journal()) as faults:
            faults.inject(Toggle("a"))
            raise RuntimeError("scenario failed")
    assert injector.world == {"a": False}


def test_session_reverts_on_sigterm() -> None:
    """SIGTERM inside the block raises Terminated and the faults are reverted."""
    injector = ToggleInjector()
    with pytest.raises(Terminated):
        with FaultSession([injector], Journal()) as faults:
            faults.inject(Toggle("a"))
            os.kill(os.getpid(), signal.SIGTERM)
    assert injector.world == {"a": False}
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_session_reverts_the_others_when_one_revert_fails() -> None:
    """A failing revert is reported after every other fault was reverted."""
    injector = ToggleInjector()
    with pytest.raises(FaultError, match="could not revert: toggle on b"):
        with FaultSession([injector], Journal()) as faults:
            faults.inject(Toggle("a"))
            faults.inject(Toggle("b", fail_revert=True))
            faults.inject(Toggle("c"))
    assert injector.reverted == ["c", "a"]


def test_session_revert_is_idempotent() -> None:
    """A fault reverted early is not reverted again at the end of the session."""
    injector, journal = ToggleInjector(), Journal()
    with FaultSession([injector], journal) as faults:
        handle = faults.inject(Toggle("a"))
        faults.revert(handle)
        faults.revert(handle)
    assert injector.reverted == ["a"]
    assert len(journal.of_type("fault_reverted")) == 1


def test_session_refuses_an_invalid_spec_before_injecting() -> None:
    """A spec without a target is refused with FaultParameterError and nothing is injected."""
    injector = ToggleInjector()
    with FaultSession([injector], Journal()) as faults:
        with pytest.raises(FaultParameterError, match="'target'"):
            faults.inject(Toggle(""))
    assert injector.world == {}


def test_session_without_a_matching_injector_says_so() -> None:
    """A fault kind no injector supports is a FaultError, not a silent no-op."""
    with FaultSession([], Journal()) as faults:
        with pytest.raises(FaultError, match="no injector for 'toggle'"):
            faults.inject(Toggle("a"))


class InterruptingHandle(ToggleHandle):
    """Reverting it delivers Ctrl-C to this process, as a user pressing it mid-cleanup would."""

    def _revert(self) -> None:
        super()._revert()
        os.kill(os.getpid(), signal.SIGINT)


class InterruptingInjector(ToggleInjector):
    def inject(self, spec: FaultSpec) -> FaultHandle:
        assert isinstance(spec, Toggle)
        self.world[spec.target] = True
        handle_type = InterruptingHandle if spec.target == "first-reverted" else ToggleHandle
        return handle_type(spec, self.world, self.reverted)


def test_session_ctrl_c_during_a_revert_still_reverts_the_rest() -> None:
    """A Ctrl-C arriving while one fault is reverted waits until every fault is reverted, then raises,
    also with a worker thread running (the kernel may hand the signal to it, as in a real run)."""
    injector, journal = InterruptingInjector(), Journal()
    faults = FaultSession([injector], journal)
    faults.inject(Toggle("older"))
    faults.inject(Toggle("first-reverted"))
    release = threading.Event()
    worker = threading.Thread(target=release.wait, daemon=True)
    worker.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            faults.revert_all()
    finally:
        release.set()
        worker.join()
    assert injector.reverted == ["first-reverted", "older"]
    assert injector.world == {"older": False, "first-reverted": False}
