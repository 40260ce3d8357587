"""Compare two runs' results and decide whether NEW regressed against BASE.

    BASE results ─┐                          ┌─► ScenarioComparison per scenario (figures side by side)
                  ├─► match scenarios ─► judge each figure against Thresholds
    NEW results  ─┘   by path + name         └─► Comparison.regressed  ─► exit 1 in 'harness report --compare'

Pure: dicts in, frozen dataclasses out, no I/O, so every rule here is tested on hand-built results.

What counts as a regression, scenario by scenario:
  * the scenario is in BASE but not in NEW (a resilience claim silently disappeared);
  * it passed in BASE and did not pass in NEW;
  * a figure grew beyond its limit: time to degrade, time to recover, p95 latency (``Limit``), or
    availability fell by more than a number of percentage points;
  * a figure BASE measured is missing in NEW (the system never degraded or never recovered after the
    fault, or answered no request at all).
Scenarios only in NEW are listed as added, never regressions. Getting *better* is never a regression.

Scenarios match on feature file path and scenario name. Paths are written absolute, so the same suite
run from two checkouts (``/ci/build-17/features/x.feature`` and ``/home/me/repo/features/x.feature``)
would never match exactly: a scenario without an exact match falls back to the file's *name* plus the
scenario name, when that pair is unique on both sides. Line numbers are not part of the key: editing a
feature file above a scenario must not make it "missing".

A scenario that appears several times in one run (a repeated run, ``"attempt": 1, 2, ...``) is judged
on the median of each figure over its attempts, and passed only if every attempt passed.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from core.errors import ConfigError, UsageError
from scenarios.outcome import Outcome

# The figures compared, as named in a scenario's "summary" in results.json, with a human label.
TIME_TO_DEGRADE = "time_to_degrade_s"
TIME_TO_RECOVER = "time_to_recover_s"
AVAILABILITY = "availability"
P95 = "p95_s"
FIGURES: dict[str, str] = {TIME_TO_DEGRADE: "time to degrade", TIME_TO_RECOVER: "time to recover",
                           AVAILABILITY: "availability", P95: "p95 latency"}

_PART = re.compile(r"^(?P<value>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>%|ms|s|)$")


@dataclass(frozen=True)
class Limit:
    """How far a duration may grow from BASE to NEW before it is a regression.

    The growth must exceed *both* parts: ``absolute`` seconds and ``relative`` × the BASE value. A
    relative limit alone flags 4 ms → 9 ms as +125%; an absolute limit alone is meaningless across
    figures of 50 ms and 30 s. A part left at 0 does not constrain.
    """

    absolute: float = 0.0
    relative: float = 0.0

    @classmethod
    def parse(cls, text: str) -> Limit:
        """``"2s"``, ``"2"`` (seconds), ``"500ms"``, ``"50%"``, or both joined: ``"50%,20ms"``."""
        absolute: float | None = None
        relative: float | None = None
        for raw in text.replace("+", ",").split(","):
            match = _PART.match(raw.strip().lower())
            if match is None:
                raise UsageError(f"limit {text!r}: expected seconds ('2s', '500ms') and/or a percentage ('50%')")
            value, unit = float(match["value"]), match["unit"]
            if unit == "%":
                if relative is not None:
                    raise UsageError(f"limit {text!r}: more than one percentage")
                relative = value / 100.0
            else:
                if absolute is not None:
                    raise UsageError(f"limit {text!r}: more than one duration")
                absolute = value / 1000.0 if unit == "ms" else value
        return cls(absolute=absolute or 0.0, relative=relative or 0.0)

    def exceeded(self, base: float, new: float) -> bool:
        growth = new - base
        return growth > self.absolute and growth > self.relative * base

    def __str__(self) -> str:
        parts = [f"{self.relative * 100:g}%"] if self.relative else []
        if self.absolute or not parts:
            parts.append(f"{self.absolute:g} s" if self.absolute >= 1 or not self.absolute
                         else f"{self.absolute * 1000:g} ms")
        return " and ".join(parts)


@dataclass(frozen=True)
class Thresholds:
    """The user's tolerances. The defaults keep quiet on identical code run twice on one machine
    (measured on five default-suite runs: docs/report.md) and still catch a breaker that stopped
    opening, a slower recovery by a probe period, or a p95 that grew by half."""

    degrade: Limit = field(default_factory=lambda: Limit(absolute=1.0))
    recover: Limit = field(default_factory=lambda: Limit(absolute=2.0))
    availability_drop_pp: float = 5.0
    p95: Limit = field(default_factory=lambda: Limit(absolute=0.02, relative=0.5))

    def __post_init__(self) -> None:
        if not self.availability_drop_pp >= 0:  # also refuses NaN, which would never compare
            raise UsageError(f"the availability drop must be 0 or more percentage points, "
                             f"got {self.availability_drop_pp:g}")

    def describe(self) -> dict[str, str]:
        """Each figure's limit in words, for the table and the page."""
        return {TIME_TO_DEGRADE: f"+{self.degrade}", TIME_TO_RECOVER: f"+{self.recover}",
                AVAILABILITY: f"-{self.availability_drop_pp:g} pp", P95: f"+{self.p95}"}


@dataclass(frozen=True)
class FigureChange:
    """One figure of one scenario in both runs."""

    figure: str
    base: float | None
    new: float | None
    regressed: bool
    reason: str | None = None  # why it regressed, in words; None when it did not


@dataclass(frozen=True)
class ScenarioComparison:
    name: str
    path: str
    base_outcome: str | None  # None: not in BASE (added)
    new_outcome: str | None  # None: not in NEW (missing)
    attempts: tuple[int, int] = (0, 0)  # how many times the scenario ran in BASE and in NEW
    figures: tuple[FigureChange, ...] = ()
    problems: tuple[str, ...] = ()  # every regression of this scenario, in words

    @property
    def regressed(self) -> bool:
        return bool(self.problems)

    def figure(self, name: str) -> FigureChange | None:
        return next((f for f in self.figures if f.figure == name), None)


@dataclass(frozen=True)
class Comparison:
    scenarios: tuple[ScenarioComparison, ...]
    thresholds: Thresholds

    @property
    def regressed(self) -> bool:
        return any(s.regressed for s in self.scenarios)

    def regressions(self) -> list[str]:
        """One line per regression: ``scenario: what``."""
        return [f"{s.name}: {problem}" for s in self.scenarios for problem in s.problems]


@dataclass(frozen=True)
class _Entry:
    """A scenario of one run, its attempts merged."""

    name: str
    path: str
    outcome: str
    attempts: int
    figures: dict[str, float | None]


def compare_runs(base: Mapping[str, Any], new: Mapping[str, Any], thresholds: Thresholds | None = None, *,
                 base_source: str = "BASE", new_source: str = "NEW") -> Comparison:
    """Compare NEW against BASE (each the dict in a ``results.json``).

    ``base_source``/``new_source`` name the inputs in errors: a malformed scenario raises ``ConfigError``.
    """
    limits = thresholds or Thresholds()
    base_entries = _entries(base, base_source)
    new_entries = _entries(new, new_source)
    pairs = _match(list(base_entries), list(new_entries))
    out = []
    for base_key, new_key in pairs:
        b = base_entries[base_key] if base_key else None
        n = new_entries[new_key] if new_key else None
        out.append(_compare_scenario(b, n, limits))
    return Comparison(scenarios=tuple(out), thresholds=limits)


def _compare_scenario(base: _Entry | None, new: _Entry | None, limits: Thresholds) -> ScenarioComparison:
    some = base or new
    assert some is not None
    if base is None or new is None:
        return ScenarioComparison(
            name=some.name, path=some.path, base_outcome=base.outcome if base else None,
            new_outcome=new.outcome if new else None,
            attempts=(base.attempts if base else 0, new.attempts if new else 0),
            problems=("missing in NEW",) if new is None else ())
    problems = []
    if base.outcome == Outcome.PASSED and new.outcome != Outcome.PASSED:
        problems.append(f"passed in BASE, {new.outcome} in NEW")
    figures = tuple(_judge(name, base.figures.get(name), new.figures.get(name), limits) for name in FIGURES)
    problems += [f.reason for f in figures if f.reason]
    return ScenarioComparison(name=new.name, path=new.path, base_outcome=base.outcome, new_outcome=new.outcome,
                              attempts=(base.attempts, new.attempts), figures=figures, problems=tuple(problems))


def _judge(name: str, base: float | None, new: float | None, limits: Thresholds) -> FigureChange:
    label = FIGURES[name]
    if base is None or new is None:
        if base is not None:
            return FigureChange(name, base, new, True, f"{label} measured in BASE but not in NEW")
        return FigureChange(name, base, new, False)
    if name == AVAILABILITY:
        drop_pp = (base - new) * 100.0
        if drop_pp > limits.availability_drop_pp:
            return FigureChange(name, base, new, True, f"{label} fell {drop_pp:.2f} pp "
                                f"({100 * base:.2f}% → {100 * new:.2f}%; limit {limits.availability_drop_pp:g} pp)")
        return FigureChange(name, base, new, False)
    limit = {TIME_TO_DEGRADE: limits.degrade, TIME_TO_RECOVER: limits.recover, P95: limits.p95}[name]
    if limit.exceeded(base, new):
        return FigureChange(name, base, new, True, f"{label} grew {_duration(new - base)} "
                            f"({_duration(base)} → {_duration(new)}; limit +{limit})")
    return FigureChange(name, base, new, False)


def _duration(value: float) -> str:
    return f"{value * 1000:.0f} ms" if abs(value) < 1 else f"{value:.2f} s"


# -- reading and matching scenarios ----------------------------------------------------------------

_Key = tuple[str, str]  # (path, name)


def _entries(results: Mapping[str, Any], source: str) -> dict[_Key, _Entry]:
    """The run's scenarios by (path, name), repeated attempts merged, in the run's order."""
    scenarios = results.get("scenarios")
    if not isinstance(scenarios, list):
        raise ConfigError(source, "not a results file: expected an object with a 'scenarios' list")
    grouped: dict[_Key, list[Mapping[str, Any]]] = {}
    for index, scenario in enumerate(scenarios, start=1):
        if not isinstance(scenario, Mapping) or not isinstance(scenario.get("name"), str):
            raise ConfigError(source, f"scenario {index}: expected an object with a 'name'")
        if not isinstance(scenario.get("summary", {}), Mapping):
            raise ConfigError(source, f"scenario {index} ({scenario['name']}): 'summary' is not an object")
        grouped.setdefault((str(scenario.get("path", "")), scenario["name"]), []).append(scenario)
    return {key: _merge(key, group, source) for key, group in grouped.items()}


def _merge(key: _Key, attempts: Sequence[Mapping[str, Any]], source: str) -> _Entry:
    outcomes = [str(a.get("outcome", "unknown")) for a in attempts]
    failing = [o for o in outcomes if o != Outcome.PASSED]
    figures: dict[str, float | None] = {}
    for name in FIGURES:
        values = []
        for a in attempts:
            value = (a.get("summary") or {}).get(name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(source, f"scenario {key[1]!r}: summary.{name} is not a number: {value!r}")
            values.append(float(value))
        figures[name] = statistics.median(values) if values else None
    return _Entry(name=key[1], path=key[0], outcome=failing[0] if failing else str(Outcome.PASSED), attempts=len(attempts),
                  figures=figures)


def _match(base: list[_Key], new: list[_Key]) -> list[tuple[_Key | None, _Key | None]]:
    """Pairs of keys, in BASE's order, then the scenarios only NEW has."""
    base_set, new_set = set(base), set(new)
    unmatched_new = [k for k in new if k not in base_set]
    by_file: dict[tuple[str, str], list[_Key]] = {}
    for k in unmatched_new:
        by_file.setdefault(_loose(k), []).append(k)
    base_loose: dict[tuple[str, str], int] = {}
    for k in base:
        if k not in new_set:
            base_loose[_loose(k)] = base_loose.get(_loose(k), 0) + 1
    pairs: list[tuple[_Key | None, _Key | None]] = []
    taken: set[_Key] = set()
    for k in base:
        if k in new_set:
            pairs.append((k, k))
            continue
        candidates = by_file.get(_loose(k), [])
        if len(candidates) == 1 and base_loose[_loose(k)] == 1:
            pairs.append((k, candidates[0]))
            taken.add(candidates[0])
        else:
            pairs.append((k, None))
    pairs += [(None, k) for k in unmatched_new if k not in taken]
    return pairs


def _loose(key: _Key) -> tuple[str, str]:
    return PurePath(key[0]).name, key[1]
