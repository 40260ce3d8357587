"""A benchmark figure: a value, the reference it is compared with in the same run, their ratio, a goal.

Absolute numbers move with the machine and whatever else runs on it; a ratio against a reference
measured in the same run (direct vs through the proxy, degraded vs normal, measured vs configured)
mostly does not. So every figure carries its reference, and goals are stated on the ratio wherever one
makes sense. A figure that cannot be measured on a system says why (``na``) instead of being left out,
so ``bench.json`` always has the same keys.

    bench.json = {"schema": 1, "meta": {...}, "figures": [Figure.to_json(), ...]}
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

SCHEMA_VERSION = 1


class Op(StrEnum):
    """How a goal compares: the value (or ratio) must be below, at most, or at least the limit."""

    BELOW = "<"
    AT_MOST = "<="
    AT_LEAST = ">="


@dataclass(frozen=True)
class Goal:
    """A goal on a figure's ``ratio`` (``on_ratio``) or on its ``value``."""

    op: Op
    limit: float
    on_ratio: bool = True
    text: str = ""  # how people say it, e.g. "under 1 ms added p50"

    def met(self, value: float | None, ratio: float | None) -> bool | None:
        """True/False once the figure has a number; None when it has none to judge."""
        subject = ratio if self.on_ratio else value
        if subject is None or math.isnan(subject):
            return None
        if self.op is Op.BELOW:
            return subject < self.limit
        if self.op is Op.AT_MOST:
            return subject <= self.limit
        return subject >= self.limit

    def describe(self) -> str:
        if self.text:
            return self.text
        subject = "ratio" if self.on_ratio else "value"
        return f"{subject} {self.op.value} {self.limit:g}"

    def to_json(self) -> dict[str, Any]:
        return {"op": self.op.value, "limit": self.limit, "on_ratio": self.on_ratio, "text": self.describe()}


@dataclass(frozen=True)
class Figure:
    """One row of the benchmark table."""

    key: str  # stable identifier, e.g. "degrade.kill.vector-db.first_answer"
    group: str  # the section, e.g. "time to degrade"
    name: str
    value: float | None
    unit: str
    reference: float | None = None
    reference_label: str = ""
    goal: Goal | None = None
    note: str = ""
    na: str | None = None  # why this figure has no number on this system

    @property
    def ratio(self) -> float | None:
        """value / reference, when both are numbers and the reference is not zero."""
        if self.value is None or self.reference is None or self.reference == 0:
            return None
        if math.isnan(self.value) or math.isnan(self.reference):
            return None
        return self.value / self.reference

    @property
    def met(self) -> bool | None:
        return None if self.goal is None else self.goal.met(self.value, self.ratio)

    def to_json(self) -> dict[str, Any]:
        ratio = self.ratio
        return {
            "key": self.key, "group": self.group, "name": self.name,
            "value": _number(self.value), "unit": self.unit,
            "reference": _number(self.reference), "reference_label": self.reference_label,
            "ratio": _number(ratio), "goal": None if self.goal is None else self.goal.to_json(),
            "met": self.met, "note": self.note, "na": self.na,
        }


def not_applicable(key: str, group: str, name: str, unit: str, reason: str, goal: Goal | None = None) -> Figure:
    """A figure this system cannot give, with the reason the table shows instead of a number."""
    return Figure(key, group, name, None, unit, goal=goal, na=reason)


def _number(value: float | None) -> float | None:
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    return round(value, 6)


def bench_document(figures: Iterable[Figure], meta: Mapping[str, Any]) -> dict[str, Any]:
    """The content of ``bench.json``."""
    return {"schema": SCHEMA_VERSION, "meta": dict(meta), "figures": [f.to_json() for f in figures]}


def missing_numbers(document: Mapping[str, Any]) -> list[str]:
    """Keys of figures that have neither a number nor a reason for having none (a bench bug)."""
    return [str(f.get("key")) for f in document.get("figures", [])
            if f.get("value") is None and not f.get("na")]
