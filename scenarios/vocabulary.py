"""The step vocabulary: pytest-bdd step definitions that the engine can also list and match offline.

pytest-bdd finds a step's definition only when the scenario runs, so a typo in a feature file would
surface minutes into a run, after faults were injected. Registering steps through a ``Vocabulary``
keeps each step's regular expression at hand, so ``harness run`` and ``harness run --dry-run`` check
every step of every selected scenario before touching the system (unknown step -> file:line, exit 2).

    steps = Vocabulary()

    @steps.when(r'"(?P<service>[\\w-]+)" is partitioned from the gateway')
    def _(run: RunContext, service: str) -> None: ...
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import pytest_bdd
from pytest_bdd import parsers

if TYPE_CHECKING:
    from faults.base import FaultSpec

StepType = Literal["given", "when", "then"]
F = TypeVar("F", bound=Callable[..., Any])


class PlanKind(StrEnum):
    """What a step does, as ``--dry-run`` lists it (the word is the plan's second column)."""

    LOAD = "load"  # start or change the load
    FAULT = "fault"  # inject a fault
    REVERT = "revert"  # revert faults, restart, resume
    WAIT = "wait"  # let time pass
    CHECK = "check"  # a Then: an assertion, maybe waiting up to its bound
    STEP = "step"  # anything else (a Given or When without a preview)


@dataclass(frozen=True)
class PlanItem:
    """What a step would do, for ``--dry-run``; ``seconds`` at most."""

    kind: PlanKind
    text: str
    seconds: float = 0.0
    spec: FaultSpec | None = None


# A step's preview: (scenarios.preview.PreviewContext, **the step's regex groups) -> PlanItem.
Preview = Callable[..., PlanItem]


@dataclass(frozen=True)
class StepEntry:
    type: StepType
    pattern: re.Pattern[str]
    doc: str
    preview: Preview | None = None

    def matches(self, step_type: str, text: str) -> bool:
        return step_type == self.type and self.pattern.fullmatch(text) is not None


class Vocabulary:
    """Collects the steps of one step module as it is imported."""

    def __init__(self) -> None:
        self._entries: list[StepEntry] = []

    @property
    def entries(self) -> tuple[StepEntry, ...]:
        return tuple(self._entries)

    def _register(self, step_type: StepType, pattern: str, target_fixture: str | None,
                  preview: Preview | None) -> Callable[[F], F]:
        decorator = {"given": pytest_bdd.given, "when": pytest_bdd.when, "then": pytest_bdd.then}[step_type]

        def wrap(func: F) -> F:
            self._entries.append(StepEntry(step_type, re.compile(pattern), (func.__doc__ or "").strip(), preview))
            # stacklevel 2: pytest-bdd injects its fixture into the step module, one frame above us.
            decorator(parsers.re(pattern), target_fixture=target_fixture, stacklevel=2)(func)
            return func

        return wrap

    def given(self, pattern: str, target_fixture: str | None = None, *, preview: Preview | None = None
              ) -> Callable[[F], F]:
        return self._register("given", pattern, target_fixture, preview)

    def when(self, pattern: str, target_fixture: str | None = None, *, preview: Preview | None = None
             ) -> Callable[[F], F]:
        return self._register("when", pattern, target_fixture, preview)

    def then(self, pattern: str, target_fixture: str | None = None, *, preview: Preview | None = None
             ) -> Callable[[F], F]:
        return self._register("then", pattern, target_fixture, preview)
