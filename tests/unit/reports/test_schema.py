"""The JSON Schema of results.json: it is valid draft 2020-12, accepts what write_results writes, and refuses
what a reader could not rely on."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from core.settings import PROJECT_ROOT
from reports.schema import SCHEMA_PATH, load_schema, schema_errors
from scenarios.assertions import Verdict
from scenarios.outcome import Outcome
from scenarios.records import FaultWindow, RequestRecord, StatusSample
from scenarios.results import ScenarioResult, StepResult, run_metadata, write_results

T0 = 1000.0  # monotonic origin of the constructed scenarios
WALL = 1_795_871_776.0


def constructed(name: str, outcome: str, *, with_load: bool = True) -> ScenarioResult:
    """A scenario as the engine builds it: steps, a verdict, a fault window, samples, records and marks."""
    result = ScenarioResult(name=name, feature="Losing a dependency", path="features/dependency_loss.feature",
                            line=7, tags=["smoke"], started=T0, started_wall=WALL, finished=T0 + 12.0,
                            outcome=Outcome(outcome), message=None if outcome == "passed" else "line 12: expected <= 5s")
    result.steps = [StepResult("Given", 'the system is running in "normal" mode', 8, T0, 0.05),
                    StepResult("Then", 'the mode becomes "degraded-no-context" within 5 seconds', 12, T0 + 1,
                               3.0, Outcome.PASSED if outcome == "passed" else Outcome.FAILED)]
    result.verdicts = [Verdict('mode becomes "degraded-no-context" within 5s', outcome == "passed", "<= 5s",
                               "after 0.40s", at=T0 + 1.5, value=0.4),
                       Verdict("no request returned a server error", True, "0 server errors", "0 of 40")]
    result.faults = [FaultWindow("kill on vector-db", "kill", "vector-db", T0 + 1.0, T0 + 6.0),
                     FaultWindow("latency on llm", "latency", "llm", T0 + 2.0, None)]
    result.samples = [StatusSample(T0 + t / 2, WALL + t / 2, "normal" if t < 3 else "degraded-no-context",
                                   {"vector-db": "closed" if t < 3 else "open", "llm": "closed"})
                      for t in range(20)] + [StatusSample(T0 + 10.5, WALL + 10.5, None, {}, "ConnectError")]
    if with_load:
        result.records = [RequestRecord(T0 + i / 4, WALL + i / 4, 0.05, 200, "normal") for i in range(40)]
        result.records.append(RequestRecord(T0 + 5.0, WALL + 5.0, 1.0, 0, None, error="ReadTimeout"))
    result.marks = {"start": T0 + 0.5, "fault": T0 + 1.0, "recovery": T0 + 6.0}
    return result


def written(tmp_path: Path, scenarios: list[ScenarioResult], outcome: str) -> dict[str, Any]:
    """results.json as write_results writes it, read back."""
    path = tmp_path / "results.json"
    events = [{"type": "fault_injected", "wall": "2026-11-28T13:14:43.044Z", "monotonic": T0 + 1.0,
               "fault": "kill", "target": "vector-db", "label": "kill on vector-db", "call_s": 0.01}]
    write_results(path, run_metadata(7, "local", "system_under_test/topology.yaml", PROJECT_ROOT), Outcome(outcome),
                  scenarios, events)
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    """The schema file itself passes the draft 2020-12 meta-schema."""
    schema = load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    assert SCHEMA_PATH.parent.name == "reports"


def test_write_results_output_matches_the_schema(tmp_path: Path) -> None:
    """Results written by write_results for passed, failed, load-less and interrupted scenarios validate."""
    scenarios = [constructed("passes", "passed"), constructed("fails", "failed"),
                 constructed("no load", "error", with_load=False), constructed("cut short", "interrupted")]
    scenarios[-1].finished = None
    scenarios[-1].steps[-1].status = Outcome.INTERRUPTED
    data = written(tmp_path, scenarios, "failed")
    assert data["scenarios"][0]["summary"]["time_to_degrade_s"] is not None, "the example exercises the figures"
    assert schema_errors(data) == []


def test_schema_accepts_the_optional_repeat_fields(tmp_path: Path) -> None:
    """attempt and seed per scenario, run.replay, run.repeat and top-level pass_rates are allowed."""
    data = written(tmp_path, [constructed("passes", "passed")], "passed")
    data["scenarios"][0].update(attempt=2, seed=12345)
    data["run"].update(replay="harness run features/x.feature --seed 7 --repeat 3", repeat=3)
    data["pass_rates"] = [{"name": "passes", "feature": "Losing a dependency", "path": "features/x.feature",
                           "line": 7, "runs": 3, "passed": 2, "failed": 1, "error": 0, "rate": 0.667,
                           "ci_low": 0.208, "ci_high": 0.939}]
    assert schema_errors(data) == []


@pytest.mark.parametrize(("change", "where"), [
    (lambda d: d.update(outcome="green"), "outcome"),
    (lambda d: d["scenarios"][0].update(outcome="skipped"), "scenarios.0.outcome"),
    (lambda d: d["scenarios"][0].pop("summary"), "scenarios.0"),
    (lambda d: d["scenarios"][0]["summary"].update(availability=1.5), "scenarios.0.summary.availability"),
    (lambda d: d["scenarios"][0]["timeline"][0]["breakers"].update(llm="ajar"), "scenarios.0.timeline.0.breakers.llm"),
    (lambda d: d["scenarios"][0].update(attempt=0), "scenarios.0.attempt"),
    (lambda d: d["run"].update(replay=["harness", "run"]), "run.replay"),
    (lambda d: d.update(pass_rates=[{"name": "passes", "runs": 3}]), "pass_rates.0"),
    (lambda d: d.pop("events"), "(top)"),
])
def test_schema_refuses_what_readers_cannot_rely_on(tmp_path: Path, change: Any, where: str) -> None:
    """An unknown outcome or breaker state, a missing section, an out-of-range figure or a malformed
    optional field is reported at its path."""
    data = copy.deepcopy(written(tmp_path, [constructed("passes", "passed")], "passed"))
    change(data)
    errors = schema_errors(data)
    assert errors and all(e.startswith(f"{where}: ") for e in errors), errors


def streamed_records() -> list[RequestRecord]:
    """Streams of each outcome, as the streaming load user writes them."""
    kinds = [("complete", None, 120.0, 6), ("partial", None, 150.0, 2), ("error", "StreamCut", 90.0, 3),
             ("error", "Timeout", None, 0)]
    return [RequestRecord(T0 + 1 + i / 3, WALL + 1 + i / 3, 0.6, 200, "normal", notice=outcome == "partial",
                          error=error, name="chat-stream", worker="local", user="load-local-1", ttft_ms=ttft,
                          tokens=tokens, tokens_per_s=12.5 if tokens > 1 else None, outcome=outcome)
            for i, (outcome, error, ttft, tokens) in enumerate(kinds * 3)]


def test_results_with_streamed_requests_match_the_schema(tmp_path: Path) -> None:
    """Summary and per-second stream figures validate, and so does each record line of the load."""
    scenario = constructed("streams", "passed")
    scenario.records += streamed_records()
    data = written(tmp_path, [scenario], "passed")
    assert data["scenarios"][0]["summary"]["stream_outcomes"] == {"complete": 3, "partial": 3, "error": 6}
    assert any("ttft_p95_s" in bucket for bucket in data["scenarios"][0]["load"])
    assert schema_errors(data) == []
    schema = load_schema()
    record_schema = {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": "#/$defs/request_record"}
    validator = Draft202012Validator(record_schema)
    for record in [*streamed_records(), *scenario.records[:2]]:
        assert list(validator.iter_errors(json.loads(json.dumps(record.to_json())))) == []
    bad = {**streamed_records()[0].to_json(), "outcome": "finished"}
    assert list(validator.iter_errors(bad))
