"""Hand-built results for the comparison tests: a scenario reduced to what the comparison reads."""

from __future__ import annotations

from typing import Any

PATH = "/ci/build-1/features/dependency_loss.feature"


def scenario(name: str = "Vector-db killed", *, path: str = PATH, outcome: str = "passed",
             degrade: float | None = 0.1, recover: float | None = 30.0, availability: float | None = 1.0,
             p95: float | None = 0.066, attempt: int | None = None) -> dict[str, Any]:
    """A scenario as results.json holds it, reduced to what the comparison reads."""
    data: dict[str, Any] = {
        "name": name, "path": path, "line": 3, "outcome": outcome,
        "summary": {"time_to_degrade_s": degrade, "time_to_recover_s": recover, "availability": availability,
                    "p95_s": p95, "p50_s": 0.01, "requests": 100},
    }
    if attempt is not None:
        data["attempt"] = attempt
    return data


def run(*scenarios: dict[str, Any]) -> dict[str, Any]:
    return {"schema_version": 1, "run": {}, "outcome": "passed", "scenarios": list(scenarios), "events": []}
