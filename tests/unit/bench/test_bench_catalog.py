"""The catalogue of figures: names, references and goals built from known measurements."""

from __future__ import annotations

import pytest

from bench import catalog
from bench.capacity import ModeCapacity
from bench.figures import bench_document
from bench.harness_cost import SuiteRun
from bench.locust_load import LoadStats
from bench.profile import ReferenceKnobs
from bench.resilience import FAULTS, Case

KNOBS = ReferenceKnobs(reset_timeout_s=5.0)


def _cases() -> list[Case]:
    return [Case(fault, dep, 1.0, 0.5, 0.6, 6.0, (0.01,)) for dep in catalog.DEPENDENCIES for fault in FAULTS]


def _stats(users: int, ok: int, p99: float = 0.2) -> LoadStats:
    return LoadStats(users, 1.0, ok, ok, p99 / 2, p99)


def test_hop_added_p50_is_proxy_minus_direct() -> None:
    """The hop's goal is on the added median: proxy p50 minus direct p50, under 1 ms."""
    rows = [{"connection": "keep-alive", "requests": 100, "direct_p50_ms": 0.25, "proxy_p50_ms": 0.35,
             "direct_p99_ms": 0.4, "proxy_p99_ms": 0.6},
            {"connection": "fresh connection", "requests": 100, "direct_p50_ms": 9, "proxy_p50_ms": 9,
             "direct_p99_ms": 9, "proxy_p99_ms": 9}]
    figures = {f.key: f for f in catalog.hop(rows)}
    assert figures["hop.added_p50"].value == pytest.approx(0.1)
    assert figures["hop.added_p50"].met is True
    assert figures["hop.p50"].ratio == pytest.approx(1.4)


def test_fast_fail_is_a_fraction_of_each_dependencys_timeout() -> None:
    """Fast fail compares the open-breaker p99 with that dependency's own configured timeout."""
    figures = {f.key: f for f in catalog.fast_fail({"vector-db": 0.012, "llm": 0.2}, KNOBS)}
    assert figures["fast_fail.vector-db"].ratio == pytest.approx(0.004)
    assert figures["fast_fail.vector-db"].met is True
    assert figures["fast_fail.llm"].ratio == pytest.approx(0.04)
    assert figures["fast_fail.llm"].met is False


def test_recovery_goal_allows_reset_timeout_plus_two_seconds() -> None:
    """Recovery is a ratio to reset_timeout whose goal is (reset + 2 s) / reset."""
    figures = catalog.recover([Case("kill", "llm", 1.0, 0.1, 0.1, 6.9, ()), Case("kill", "llm", 1.0, 0.1, 0.1, 7.1, ())],
                              KNOBS, "reset 5 s")
    assert [f.met for f in figures] == [True, False]
    assert figures[0].ratio == pytest.approx(6.9 / 5.0)


def test_degraded_capacity_must_beat_normal_and_locust_must_triple_it() -> None:
    """Degraded modes are compared with normal (goal >= 1x); Locust's own rate with normal (goal >= 3x)."""
    modes = [ModeCapacity("normal", _stats(16, 200), ()), ModeCapacity("static-only", _stats(32, 900), ()),
             ModeCapacity("degraded-no-context", _stats(32, 150), ())]
    figures = {f.key: f for f in catalog.capacity(modes, _stats(32, 500))}
    assert figures["capacity.static-only"].ratio == pytest.approx(4.5) and figures["capacity.static-only"].met
    assert figures["capacity.degraded-no-context"].met is False
    assert figures["capacity.locust"].ratio == pytest.approx(2.5) and figures["capacity.locust"].met is False
    assert figures["capacity.degraded-cache-only"].na


def test_capacity_without_a_sustainable_level_is_zero() -> None:
    """A mode whose p99 never stayed under 1 s has a sustainable rate of zero, not a missing figure."""
    figures = {f.key: f for f in catalog.capacity([ModeCapacity("normal", None, (_stats(4, 10, 2.0),))], None)}
    assert figures["capacity.normal"].value == 0.0
    assert "4 users" in figures["capacity.normal"].note


def test_scenario_overhead_is_a_share_of_the_median_scenario() -> None:
    """Per-scenario overhead is judged against the suite's median scenario duration (goal under 10%)."""
    suite = SuiteRun(100.0, (20.0, 40.0, 60.0), "passed", "run")
    figures = {f.key: f for f in catalog.cost(0.01, 40, 2.0, suite, "smoke")}
    assert figures["cost.scenario_overhead"].ratio == pytest.approx(0.05)
    assert figures["cost.scenario_overhead"].met is True
    assert figures["cost.suite_wall"].ratio == pytest.approx(100 / 1800)
    assert figures["cost.observer_cpu"].value == pytest.approx(1.0) and figures["cost.observer_cpu"].met is True


def test_scaling_is_relative_to_one_process() -> None:
    """Each worker count's rate is divided by the single-process rate."""
    figures = catalog.scaling({0: _stats(32, 1000), 2: _stats(32, 1500), 4: _stats(32, 1200)})
    assert [f.key for f in figures] == ["scaling.workers_1", "scaling.workers_2", "scaling.workers_4"]
    assert [f.ratio for f in figures] == pytest.approx([1.0, 1.5, 1.2])


def test_reference_only_figures_keep_the_measured_keys() -> None:
    """On another system the reference-only figures are n/a with the reason, under the same keys."""
    measured = catalog.fast_fail({"vector-db": 0.01, "llm": 0.01}, KNOBS) + catalog.degrade(_cases()) \
        + catalog.recover(_cases(), KNOBS, "")
    skipped = catalog.reference_only("not the reference", KNOBS)
    assert [f.key for f in skipped] == [f.key for f in measured]
    document = bench_document(skipped, {})
    assert all(row["value"] is None and row["na"] == "not the reference" for row in document["figures"])


def test_degrade_compares_the_answer_and_the_breaker_with_their_own_bounds() -> None:
    """The first degraded answer is held to the one-request bound, the breaker to the N-failures bound."""
    case = Case("blackhole", "vector-db", 3.1, 3.05, 3.12, 20.0, (), 4.0, 3.15)
    answer, breaker = catalog.degrade([case])
    assert answer.key == "degrade.blackhole.vector-db.answer" and answer.reference == 3.1 and answer.met is True
    assert breaker.key == "degrade.blackhole.vector-db.breaker" and breaker.reference == 3.15 and breaker.met is True
    assert "per-attempt timeout" in answer.reference_label
