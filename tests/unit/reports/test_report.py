"""The HTML report for a small, known results dict: content, self-containment, escaping, errors."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest

from core.errors import UsageError
from reports.figures import mode_colour, scenario_figure
from reports.html import render_report
from reports.render import write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def scenario(name: str, outcome: str, verdicts: list[dict[str, Any]], faults: list[dict[str, Any]]) -> dict[str, Any]:
    """A 4-second scenario: vector-db breaker opens at 1.5 s and the mode degrades with it."""
    timeline = [{"t": t / 10, "wall": 0.0, "mode": "normal" if t < 15 else "degraded-no-context",
                 "breakers": {"vector-db": "closed" if t < 15 else "open" if t < 35 else "half-open",
                              "llm": "closed"}, "error": None} for t in range(40)]
    load = [{"t": s, "requests": 20, "errors": s, "p50_s": 0.1, "p95_s": 0.2, "p99_s": 0.3,
             "modes": {"normal": 10, "degraded-no-context": 10 - s, "error": s}} for s in range(4)]
    return {
        "name": name, "feature": "Losing a dependency", "path": "features/x.feature", "line": 3, "tags": ["smoke"],
        "outcome": outcome, "message": None, "started": "2026-11-28T11:41:51.063+00:00", "duration_s": 4.0,
        "marks": {"fault": 1.0},
        "summary": {"requests": 80, "availability": 0.925, "p50_s": 0.1, "p95_s": 0.2, "p99_s": 0.3,
                    "errors": {"HTTP 503": 6} if outcome == "failed" else {},
                    "mode_shares": {"normal": 0.375, "degraded-no-context": 0.625},
                    "time_to_degrade_s": 0.5, "time_to_recover_s": None},
        "steps": [{"keyword": "Given", "text": "the system is running in \"normal\" mode", "line": 4, "t": 0.0,
                   "duration_s": 0.1, "status": "passed", "message": None},
                  {"keyword": "Then", "text": "p95 latency is below 100 ms", "line": 9, "t": 3.9,
                   "duration_s": 0.01, "status": outcome, "message": None}],
        "verdicts": verdicts, "faults": faults, "timeline": timeline, "load": load,
    }


def results() -> dict[str, Any]:
    """One passed scenario, and one failed with a fault window and a failing verdict."""
    failing = {"name": "p95 latency is below 100 ms", "passed": False, "expected": "< 100 ms",
               "observed": "228.4 ms over 332 requests", "at": 3.5, "value": 0.2284}
    kill = {"label": "kill on vector-db", "kind": "kill", "target": "vector-db", "start": 1.0, "end": 3.0}
    return {
        "schema_version": 1, "outcome": "failed",
        "run": {"started": "2026-11-28T11:41:46+00:00", "seed": 7, "backend": "local", "topology": "topology.yaml",
                "git_commit": "95415347f47be1afb45e400fdfe0dccfc8c1181a",
                "versions": {"locust": "2.47.0", "python": "3.11.7"},
                "machine": {"host": "vm", "cpus": 2}},
        "scenarios": [scenario("Normal mode under steady load", "passed", [], []),
                      scenario("Vector-db killed & restarted", "failed", [failing], [kill])],
        "events": [],
    }


def test_report_shows_verdict_scenarios_and_failing_verdict() -> None:
    """The page names the run's outcome, every scenario and the failing verdict's expected and observed."""
    page = render_report(results())
    assert re.search(r'id="verdict"[^>]*>FAILED<', page)
    assert "Normal mode under steady load" in page
    assert "Vector-db killed &amp; restarted" in page
    assert "&lt; 100 ms" in page
    assert "228.4 ms over 332 requests" in page
    assert "kill on vector-db" in page
    assert "95415347f47be1afb45e400fdfe0dccfc8c1181a" in page


def test_report_embeds_one_png_per_scenario() -> None:
    """Each scenario has exactly one inline image, and each decodes to a PNG."""
    page = render_report(results())
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 2
    for data in images:
        assert base64.b64decode(data, validate=True).startswith(PNG_MAGIC)


def test_report_has_no_external_references() -> None:
    """No src or href points off the page: no scheme, no protocol-relative URL."""
    page = render_report(results())
    targets = re.findall(r'\b(?:src|href)\s*=\s*["\']?([^"\'\s>]*)', page, flags=re.IGNORECASE)
    assert targets
    external = [t for t in targets if re.match(r"(?:[a-z][a-z0-9+.-]*:|//)", t, re.IGNORECASE)
                and not t.startswith("data:image/png;base64,")]
    assert external == []
    assert "url(" not in page and "@import" not in page


def test_report_escapes_text_from_results() -> None:
    """A scenario name holding markup appears escaped, never as a live tag."""
    data = results()
    data["scenarios"][0]["name"] = "<script>alert(1)</script>"
    page = render_report(data)
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_report_links_existing_logs_relatively(tmp_path: Path) -> None:
    """With a run directory, the page links the journal and the scenario's records by relative path."""
    (tmp_path / "journal.jsonl").write_text("{}\n")
    (tmp_path / "records" / "02").mkdir(parents=True)
    (tmp_path / "records" / "02" / "locust-runner.log").write_text("log\n")
    page = render_report(results(), run_dir=tmp_path)
    assert 'href="journal.jsonl"' in page
    assert 'href="records/02/locust-runner.log"' in page
    assert "records/01" not in page


def test_figure_is_a_small_png() -> None:
    """A scenario's figure is PNG bytes under 150 KB."""
    png = scenario_figure(results()["scenarios"][1])
    assert png.startswith(PNG_MAGIC)
    assert len(png) < 150_000


def test_figure_draws_a_scenario_without_load_or_timeline() -> None:
    """A scenario that errored before any load still gets a figure."""
    png = scenario_figure({"name": "broken", "duration_s": 0.0, "verdicts": [{"passed": False, "at": None}]})
    assert png.startswith(PNG_MAGIC)


def test_mode_colour_is_stable_for_unknown_modes() -> None:
    """An unlisted mode gets the same colour each call, and known modes keep their fixed colour."""
    assert mode_colour("some-new-mode") == mode_colour("some-new-mode")
    assert mode_colour("normal") == "#2ca02c"
    assert mode_colour(None) == mode_colour("unknown")


def test_write_report_writes_index_html(tmp_path: Path) -> None:
    """write_report reads results.json and writes index.html beside it."""
    (tmp_path / "results.json").write_text(json.dumps(results()))
    path = write_report(tmp_path)
    assert path == tmp_path / "index.html"
    assert "Vector-db killed &amp; restarted" in path.read_text(encoding="utf-8")


def test_write_report_missing_results_raises_usage_error(tmp_path: Path) -> None:
    """A directory without results.json is a usage error naming the file."""
    with pytest.raises(UsageError, match=re.escape(str(tmp_path / "results.json"))):
        write_report(tmp_path)


def test_write_report_invalid_json_raises_usage_error(tmp_path: Path) -> None:
    """A truncated results.json is a usage error naming the file and line."""
    (tmp_path / "results.json").write_text('{"scenarios": [\n')
    with pytest.raises(UsageError, match=re.escape(str(tmp_path / "results.json")) + ":2"):
        write_report(tmp_path)


def test_report_shows_the_replay_command_in_the_run_metadata() -> None:
    """run.replay appears escaped in the Run table, in a code span, and run.repeat beside it."""
    data = results()
    data["run"].update(replay="harness run features/x.feature --seed 7 --tags 'smoke and not docker'", repeat=3)
    page = render_report(data)
    run_table = page[page.index("<h2>Run</h2>"):]
    assert ('<th>replay</th><td><code id="replay">harness run features/x.feature --seed 7 '
            "--tags &#x27;smoke and not docker&#x27;</code></td>") in run_table
    assert "<th>repeat</th><td>3</td>" in run_table


def test_report_without_replay_has_no_replay_row() -> None:
    """Results from before replay existed render without an empty replay row."""
    assert 'id="replay"' not in render_report(results())


def test_report_shows_a_pass_rate_table_when_present() -> None:
    """pass_rates become a table with runs, outcomes, the rate and its interval, one row per scenario."""
    data = results()
    data["pass_rates"] = [
        {"name": "Vector-db killed & restarted", "feature": "Losing a dependency", "path": "features/x.feature",
         "line": 3, "runs": 10, "passed": 7, "failed": 2, "error": 1, "rate": 0.7, "ci_low": 0.397, "ci_high": 0.892},
        {"name": "Normal mode under steady load", "feature": "Steady", "path": "features/s.feature", "line": 5,
         "runs": 10, "passed": 10, "failed": 0, "error": 0, "rate": 1.0, "ci_low": 0.722, "ci_high": 1.0},
    ]
    page = render_report(data)
    table = page[page.index("<h2>Pass rates</h2>"):page.index('<section id="scenario-1">')]
    rows = re.findall(r"<tr><td>.*?</tr>", table)
    assert len(rows) == 2
    assert "Vector-db killed &amp; restarted" in rows[0] and "features/x.feature:3" in rows[0]
    cells = re.findall(r'<td class="num">([^<]*)</td>', rows[0])
    assert cells == ["10", "7", "2", "1", "70.0%", "39.7% – 89.2%"]


def test_report_without_pass_rates_has_no_pass_rate_table() -> None:
    """A run that was not repeated shows no pass-rate section."""
    assert "Pass rates" not in render_report(results())


def test_report_names_the_attempt_and_seed_of_a_repeated_scenario() -> None:
    """A scenario with attempt and seed says so under its heading, telling repeated runs apart."""
    data = results()
    data["scenarios"][1].update(attempt=2, seed=4242)
    page = render_report(data)
    section = page[page.index('<section id="scenario-2">'):]
    assert "attempt 2 · seed 4242" in section[:section.index("<img")]
    assert "attempt" not in page[page.index('<section id="scenario-1">'):page.index('<section id="scenario-2">')]


def with_streams(data: dict[str, Any]) -> dict[str, Any]:
    """The second scenario streamed: TTFT in its summary and in each second of its load."""
    streamed = data["scenarios"][1]
    streamed["summary"].update(streams=40, ttft_p50_s=0.08, ttft_p95_s=0.4321, ttft_p99_s=0.5,
                               stream_outcomes={"complete": 36, "partial": 3, "error": 1})
    for bucket in streamed["load"]:
        bucket.update(streams=10, ttft_p50_s=0.05 + bucket["t"] / 100, ttft_p95_s=0.09, partial=1, stream_errors=0)
    return data


def test_summary_gets_a_ttft_column_only_when_a_scenario_streamed() -> None:
    """With streams the table has a TTFT p95 column (– for the scenario without streams); without, none."""
    assert "TTFT p95" not in render_report(results())
    page = render_report(with_streams(results()))
    assert "TTFT p95</th>" in page
    summary = page[:page.index("</table>")]
    rows = re.findall(r"<tr><td class=\"num\">\d</td>.*?</tr>", summary)
    assert len(rows) == 2
    assert '<td class="num">432 ms</td>' in rows[1] and "432 ms" not in rows[0]
    header = summary[summary.index("<thead>"):summary.index("</thead>")]
    assert header.count("</th>") == rows[1].count("</td>") == rows[0].count("</td>")


def test_figure_draws_time_to_first_token_beside_latency() -> None:
    """A streamed scenario's latency panel gets TTFT p50/p95 lines; a /chat one does not."""
    from matplotlib.figure import Figure

    from reports.figures import _latency, _time_to_first_token

    load = with_streams(results())["scenarios"][1]["load"]
    ax = Figure().add_subplot()
    _latency(ax, load)
    _time_to_first_token(ax, load)
    assert [line.get_label() for line in ax.get_lines()] == ["p50", "p95", "p99", "TTFT p50", "TTFT p95"]
    assert ax.get_yscale() == "log"
    plain = Figure().add_subplot()
    _time_to_first_token(plain, results()["scenarios"][1]["load"])
    assert plain.get_lines() == []
    streamed_png = scenario_figure(with_streams(results())["scenarios"][1])
    assert streamed_png.startswith(PNG_MAGIC) and streamed_png != scenario_figure(results()["scenarios"][1])


def test_figure_stacks_partial_streams_on_the_errors() -> None:
    """Seconds with partial answers get bars above the error bars; a load without streams gets none."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    from reports.figures import _partial_rate

    load = with_streams(results())["scenarios"][1]["load"]
    ax = Figure().add_subplot()
    _partial_rate(ax, load)
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(bars) == len(load)
    # 1 partial of 20 requests is 5%, sitting on that second's error share (s errors of 20)
    assert [(b.get_y(), b.get_height()) for b in bars] == [(100.0 * s / 20, 5.0) for s in range(len(load))]
    plain = Figure().add_subplot()
    _partial_rate(plain, results()["scenarios"][1]["load"])
    assert len(plain.patches) == 0
