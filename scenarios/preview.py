"""``harness run --dry-run``: every check a run makes before touching anything, and the plan it would follow.

The plan is read from the feature files alone: each step's definition may carry a ``preview`` that says
what the step would do (start or change load, inject or revert a fault, wait, check) without doing it,
building the same fault spec the step would build so its parameters and target are validated the same
way. Times are upper bounds: a "within N seconds" check may pass sooner.

    features/dependency_loss.feature:6  Vector-db killed and restarted  (at most 88 s)
         t<=0s  load    20 users
         t<=0s  fault   kill vector-db
         t<=5s  check   the mode becomes "degraded-no-context" within 5 seconds
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from core.errors import ConfigError, UsageError
from core.topology import Topology
from faults.base import FaultSpec
from faults.catalog import check_target

from .features import PlannedScenario
from .vocabulary import PlanItem, PlanKind, StepEntry


@dataclass(frozen=True)
class PreviewContext:
    """What a step's preview may consult: the topology (targets) and the run's load override."""

    topology: Topology
    users_override: int | None = None
    allow_hosts: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ScenarioPlan:
    scenario: PlannedScenario
    items: tuple[tuple[float, PlanItem], ...]  # (latest start time, item)

    @property
    def total_s(self) -> float:
        return max((t + item.seconds for t, item in self.items), default=0.0)


def plan_scenarios(planned: Sequence[PlannedScenario], vocabulary: Sequence[StepEntry],
                   context: PreviewContext) -> list[ScenarioPlan]:
    """Each scenario's plan; a bad fault parameter or target raises the same error the run would."""
    plans = []
    for scenario in planned:
        clock = 0.0
        items: list[tuple[float, PlanItem]] = []
        for step in scenario.steps:
            entry = next(e for e in vocabulary if e.matches(step.type, step.text))
            match = entry.pattern.fullmatch(step.text)
            assert match is not None  # matches() said so
            if entry.preview is None:
                item = PlanItem(PlanKind.CHECK if entry.type == "then" else PlanKind.STEP, step.text)
            else:
                try:
                    item = entry.preview(context, **match.groupdict())
                except UsageError as exc:  # a fault parameter, target or load the run would refuse
                    raise ConfigError(str(scenario.path), str(exc), step.line) from None
                if not item.text:
                    item = replace(item, text=step.text)
            items.append((clock, item))
            clock += item.seconds
        plans.append(ScenarioPlan(scenario, tuple(items)))
    return plans


def render(plans: Sequence[ScenarioPlan]) -> str:
    lines = []
    for plan in plans:
        s = plan.scenario
        lines.append(f"{s.path}:{s.line}  {s.name}  (at most {plan.total_s:.0f} s of steps)")
        for t, item in plan.items:
            lines.append(f"  t<={t:>4.0f}s  {item.kind:<6}  {item.text}")
    total = sum(p.total_s for p in plans)
    lines.append(f"{len(plans)} scenario(s), at most {total:.0f} s of steps in all (plus set-up and resets)")
    return "\n".join(lines)


def fault_preview(build: Callable[..., FaultSpec]) -> Callable[..., PlanItem]:
    """A preview for a fault step: build the step's spec, validate it against the topology, describe it."""

    def preview(context: PreviewContext, **groups: str | None) -> PlanItem:
        spec = replace(build(**groups), target=context.topology.canonical(str(groups.get("target"))))
        spec.validate()
        check_target(context.topology, spec)
        return PlanItem(PlanKind.FAULT, spec.describe(), spec=spec)

    return preview
