"""The run's results: one journal (``results.json``) that reports, CI and replays read.

    {"run": {...metadata...}, "outcome": "passed|failed|error|interrupted",
     "scenarios": [{"name", "feature", "tags", "outcome", "duration_s", "steps": [...],
                    "verdicts": [...], "faults": [...windows...], "timeline": [...samples...],
                    "load": [...per-second buckets...], "summary": {...figures...},
                    "alerts": [...pending/firing/resolved, with --monitoring...]}],
     "events": [...journal...]}

Times inside a scenario are seconds since that scenario started (``t``), plus wall times.
"""

from __future__ import annotations

import json
import math
import os
import random
import platform
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import metrics, stream_metrics
from .assertions import Verdict
from .outcome import COUNTED, Outcome
from .records import FaultWindow, RequestRecord, StatusSample
from monitoring.timeline import AlertInterval, summarize as summarize_alerts

SCHEMA_VERSION = 1


@dataclass
class StepResult:
    keyword: str
    text: str
    line: int
    started: float
    duration_s: float = 0.0
    status: Outcome = Outcome.PASSED  # or failed, error, interrupted
    message: str | None = None

    def to_json(self, origin: float) -> dict[str, Any]:
        return {"keyword": self.keyword, "text": self.text, "line": self.line, "t": round(self.started - origin, 3),
                "duration_s": round(self.duration_s, 3), "status": self.status, "message": self.message}


@dataclass
class ScenarioResult:
    name: str
    feature: str
    path: str
    line: int
    tags: list[str]
    started: float
    started_wall: float
    finished: float | None = None
    outcome: Outcome = Outcome.RUNNING
    message: str | None = None
    steps: list[StepResult] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    faults: list[FaultWindow] = field(default_factory=list)
    samples: list[StatusSample] = field(default_factory=list)
    records: list[RequestRecord] = field(default_factory=list)
    marks: dict[str, float] = field(default_factory=dict)
    attempt: int = 1
    seed: int = 0
    # The alerts Prometheus raised during the scenario; None when the run had no monitoring.
    alerts: list[AlertInterval] | None = None

    @property
    def duration_s(self) -> float:
        return (self.finished or self.started) - self.started

    def summary(self) -> dict[str, Any]:
        records, end = self.records, self.finished or self.started
        p = metrics.latency_percentiles(records)
        fault = self.marks.get("fault")
        recovery = self.marks.get("recovery")
        return {
            "requests": len(records),
            "availability": metrics.availability(records),
            "p50_s": p[50], "p95_s": p[95], "p99_s": p[99],
            "errors": _error_kinds(records),
            "mode_shares": metrics.mode_shares(self.samples, self.started, end),
            "time_to_degrade_s": metrics.time_to_degrade(self.samples, fault) if fault else None,
            "time_to_recover_s": metrics.time_to_recover(self.samples, recovery) if recovery else None,
        } | stream_summary(records) | self.alert_summary()

    def alert_summary(self) -> dict[str, Any]:
        """Fault -> first alert firing, heal -> last of them resolved; only when the run had monitoring."""
        if self.alerts is None:
            return {}
        figures = summarize_alerts(self.alerts, self.marks.get("fault"), self.marks.get("recovery"))
        return {"time_to_alert_s": figures.time_to_alert_s, "time_to_resolve_s": figures.time_to_resolve_s,
                "alerts_fired": list(figures.fired)}

    def to_json(self) -> dict[str, Any]:
        o = self.started
        return {
            "name": self.name, "feature": self.feature, "path": self.path, "line": self.line, "tags": self.tags,
            "outcome": self.outcome, "message": self.message, "attempt": self.attempt, "seed": self.seed,
            "started": datetime.fromtimestamp(self.started_wall, UTC).isoformat(timespec="milliseconds"),
            "duration_s": round(self.duration_s, 3),
            "marks": {k: round(v - o, 3) for k, v in self.marks.items()},
            "summary": self.summary(),
            "steps": [s.to_json(o) for s in self.steps],
            "verdicts": [{**v.to_json(), "at": None if v.at is None else round(v.at - o, 3)} for v in self.verdicts],
            "faults": [{**w.to_json(), "start": round(w.start - o, 3),
                        "end": None if w.end is None else round(w.end - o, 3)} for w in self.faults],
            "timeline": [{**s.to_json(), "t": round(s.t - o, 3)} for s in self.samples],
            "load": per_second(self.records, o),
            **({} if self.alerts is None else {"alerts": [a.to_json(o) for a in self.alerts]}),
        }


def _error_kinds(records: list[RequestRecord]) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for r in records:
        if not r.ok:
            key = r.error or f"HTTP {r.status}"
            kinds[key] = kinds.get(key, 0) + 1
    return kinds


def stream_summary(records: list[RequestRecord]) -> dict[str, Any]:
    """The streamed answers' figures, only when there were any (a /chat-only summary keeps its shape)."""
    if not any(r.streamed for r in records):
        return {}
    ttft = stream_metrics.ttft_percentiles(records, (50, 95, 99))
    return {"streams": len(stream_metrics.streams(records)), "ttft_p50_s": ttft[50], "ttft_p95_s": ttft[95],
            "ttft_p99_s": ttft[99], "stream_outcomes": stream_metrics.outcome_counts(records)}


def _stream_bucket(group: list[RequestRecord]) -> dict[str, Any]:
    """A second's streamed answers: how many, time to first token, how many ended partial or in error."""
    if not any(r.streamed for r in group):
        return {}
    ttft = stream_metrics.ttft_percentiles(group, (50, 95))
    counts = stream_metrics.outcome_counts(group)
    return {"streams": len(stream_metrics.streams(group)), "ttft_p50_s": ttft[50], "ttft_p95_s": ttft[95],
            "partial": counts["partial"], "stream_errors": counts["error"]}


def per_second(records: list[RequestRecord], origin: float) -> list[dict[str, Any]]:
    """Requests per second of scenario time: count, errors, latency percentiles, answers by mode (and,
    when streams were sent, their time to first token and outcomes)."""
    buckets: dict[int, list[RequestRecord]] = {}
    for r in records:
        buckets.setdefault(int(r.t - origin), []).append(r)
    out = []
    for second in sorted(buckets):
        group = buckets[second]
        p = metrics.latency_percentiles(group)
        modes: dict[str, int] = {}
        for r in group:
            # A stream that broke after its meta event knows its mode but was no answer: it is an error.
            key = "error" if r.streamed and not r.ok else r.mode or ("error" if not r.ok else "unknown")
            modes[key] = modes.get(key, 0) + 1
        out.append({"t": second, "requests": len(group), "errors": sum(not r.ok for r in group),
                    "p50_s": p[50], "p95_s": p[95], "p99_s": p[99], "modes": modes, **_stream_bucket(group)})
    return out


def run_metadata(seed: int, backend: str, topology: str, project_root: Path) -> dict[str, Any]:
    """Who, what and where: enough to trust a figure later and to replay the run."""
    from importlib.metadata import PackageNotFoundError, version

    def package(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project_root, capture_output=True, text=True,
                                timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "seed": seed, "backend": backend, "topology": topology, "git_commit": commit,
        "versions": {"harness": package("rag-chaos-harness"), "locust": package("locust"),
                     "pytest-bdd": package("pytest-bdd"), "python": platform.python_version()},
        "machine": {"host": platform.node(), "system": platform.platform(), "cpus": os.cpu_count()},
    }


def scenario_seed(run_seed: int, attempt: int) -> int:
    """The seed of a scenario's ``attempt``: the run's seed for the first, derived ones after it.

    So ``harness run FILE:LINE --seed S`` with a scenario's recorded seed replays that very attempt.
    """
    return run_seed if attempt == 1 else random.Random(f"{run_seed}:{attempt}").randrange(2**31)


def wilson_interval(passed: int, runs: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval (95% by default) of a pass rate: honest at 0/N and N/N, unlike p±σ."""
    if runs == 0:
        return 0.0, 1.0
    p = passed / runs
    centre = (p + z * z / (2 * runs)) / (1 + z * z / runs)
    half = z * math.sqrt(p * (1 - p) / runs + z * z / (4 * runs * runs)) / (1 + z * z / runs)
    return max(0.0, centre - half), min(1.0, centre + half)


def pass_rates(scenarios: list[ScenarioResult]) -> list[dict[str, Any]]:
    """Per scenario (by file and line): runs, outcomes, pass rate and its 95% Wilson interval."""
    groups: dict[tuple[str, int], list[ScenarioResult]] = {}
    for s in scenarios:
        groups.setdefault((s.path, s.line), []).append(s)
    out = []
    for (path, line), group in groups.items():
        counts = {str(k): sum(r.outcome == k for r in group) for k in COUNTED}
        low, high = wilson_interval(counts[Outcome.PASSED], len(group))
        out.append({"name": group[0].name, "feature": group[0].feature, "path": path, "line": line,
                    "runs": len(group), **counts, "rate": round(counts[Outcome.PASSED] / len(group), 4),
                    "ci_low": round(low, 4), "ci_high": round(high, 4)})
    return out


def write_results(path: Path, run: dict[str, Any], outcome: Outcome, scenarios: list[ScenarioResult],
                  events: list[dict[str, Any]]) -> None:
    data: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "run": run, "outcome": outcome,
                            "scenarios": [s.to_json() for s in scenarios], "events": events}
    if int(run.get("repeat", 1)) > 1:
        data["pass_rates"] = pass_rates(scenarios)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False, default=str))
    tmp.replace(path)
