"""What the bundled suite catches: the features run against each flawed variant of the gateway.

A verdict is only worth something if a system with the mistake fails it. ``EXPECTED`` says, for each
variant in system_under_test/gateway/variants.py, which scenario must fail and on which assertion;
tests/integration/scenarios/test_detection.py keeps that true. Run as a module it measures the whole
matrix (every variant x every scenario, plus the reference) and writes it as Markdown:

    python -m bench.detection --out docs/detection.md            # about an hour on two cores
    python -m bench.detection --variants no-fallback stuck-open   # a part of it, printed
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.ports import free_port_offset
from core.settings import PROJECT_ROOT
from core.topology import load_topology
from system_under_test.gateway.variants import DESCRIPTIONS, Flaw

FEATURES = PROJECT_ROOT / "features"


@dataclass(frozen=True)
class Catch:
    """Where a variant must be caught: a scenario, named by its feature file and the start of its title
    (so an edit that moves it keeps the catch; line numbers did not), and the start of its failing
    assertion's name."""

    feature: str
    title: str
    verdict: str

    @property
    def scenario(self) -> str:
        """``file.feature:line`` of the scenario as its feature file reads now (the key of ``cells``)."""
        return f"{self.feature}:{scenario_line(FEATURES / self.feature, self.title)}"


def scenario_line(path: Path, title: str) -> int:
    """The line of the one scenario in ``path`` whose title starts with ``title``; ValueError when
    there is none or more than one."""
    found = [number for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
             if (parts := line.strip().partition(":"))[0] in ("Scenario", "Scenario Outline", "Example")
             and parts[2].strip().startswith(title)]
    if len(found) != 1:
        raise ValueError(f"{path}: {len(found)} scenarios titled {title!r}..., expected one")
    return found[0]


EXPECTED: dict[Flaw, Catch] = {
    Flaw.TEXTBOOK_BREAKER: Catch("dependency_loss.feature", "Vector-db killed and restarted",
                                 '"vector-db" breaker open within'),
    Flaw.TIMEOUTS_EXCLUDED: Catch("network_faults.feature", "Vector-db slower than its timeout",
                                  '"vector-db" breaker open within'),
    Flaw.NO_DEADLINE: Catch("network_faults.feature", "Vector-db hangs, then resets, at low traffic",
                            "no request since the fault took longer than"),
    Flaw.RETRY_STORM: Catch("network_faults.feature", "LLM answers cut off mid-way", 'retries to "llm" within'),
    Flaw.STUCK_OPEN: Catch("dependency_loss.feature", "Vector-db killed and restarted", 'mode becomes "normal" within'),
    Flaw.WRONG_MODE: Catch("dependency_loss.feature", "Vector-db killed and restarted",
                           'mode becomes "degraded-no-context" within'),
    Flaw.NO_FALLBACK: Catch("dependency_loss.feature", "Vector-db killed and restarted",
                            "no request returned a server error"),
    Flaw.CACHE_IGNORED: Catch("dependency_loss.feature", "LLM killed: earlier questions from the cache",
                              "the answer is in degraded-cache-only mode from the cache"),
    Flaw.EARLY_READY: Catch("hung_and_gateway.feature", "The gateway killed and restarted",
                            "no request returned a server error"),
    Flaw.HEALTH_CHECK_PER_REQUEST: Catch("network_faults.feature", "Vector-db slower but within its timeout",
                                         "p50 latency rose by 300 ms"),
    Flaw.IGNORES_RETRY_AFTER: Catch("llm_api_faults.feature", "A 429 storm with Retry-After", '"llm" received at most'),
    Flaw.SLEEPS_RETRY_AFTER: Catch("llm_api_faults.feature", "Rate limited with a Retry-After beyond the deadline",
                                   "no request since the fault took longer than"),
    Flaw.NO_STREAM_IDLE_TIMEOUT: Catch("llm_api_faults.feature", "Streamed answers stall before the first token",
                                       "no request since the fault took longer than"),
    Flaw.STREAM_ERROR_AS_5XX: Catch("llm_api_faults.feature", "Streamed answers stall before the first token",
                                    "no request returned a server error"),
    Flaw.SILENT_TRUNCATION: Catch("llm_api_faults.feature", "Streamed answers cut mid-answer",
                                  "every interrupted streamed answer carries a notice"),
    Flaw.QUERY_TYPE_BREAKER: Catch("llm_api_faults.feature", "Only fare questions fail at the vector-db",
                                   'mode stays "normal" for'),
}


@dataclass(frozen=True)
class Cell:
    """One scenario's outcome in one variant's run, with the first failed assertion if any."""

    outcome: str
    failed: str | None = None

    def render(self) -> str:
        if self.outcome == "passed":
            return "pass"
        return f"**{self.outcome.upper()}**" + (f": {self.failed}" if self.failed else "")


def scenario_key(scenario: dict[str, Any]) -> str:
    return f"{Path(scenario['path']).name}:{scenario['line']}"


def cells(results: dict[str, Any]) -> dict[str, Cell]:
    """Each scenario of a results.json, keyed ``file.feature:line``."""
    out: dict[str, Cell] = {}
    for scenario in results.get("scenarios", []):
        failed = next((v["name"] for v in scenario.get("verdicts", []) if not v["passed"]), None)
        out[scenario_key(scenario)] = Cell(scenario["outcome"], failed or scenario.get("message"))
    return out


def caught(results: dict[str, Any], catch: Catch) -> bool:
    """The expected scenario failed (not errored) and one of its failed verdicts is the expected one."""
    for scenario in results.get("scenarios", []):
        if (Path(scenario["path"]).name != catch.feature or not str(scenario["name"]).startswith(catch.title)
                or scenario["outcome"] != "failed"):
            continue
        return any(not v["passed"] and v["name"].startswith(catch.verdict) for v in scenario.get("verdicts", []))
    return False


def run_suite(variant: Flaw | None, paths: Sequence[str], out: Path, *, seed: int,
              timeout_s: float = 3600, offsets: range = range(9_000, 11_000, 100)) -> tuple[int, dict[str, Any]]:
    """``harness run`` of ``paths`` with the gateway variant set through the topology; (exit code, results).

    The run takes the first free port offset in ``offsets``; runs at the same time need disjoint ranges."""
    offset = free_port_offset(load_topology(), start=offsets.start, stop=offsets.stop, step=offsets.step)
    command = [sys.executable, str(PROJECT_ROOT / "harness.py"), "run", "--port-offset", str(offset),
               "--out", str(out), "--seed", str(seed),
               "--env", f"gateway:GATEWAY_VARIANT={variant.value if variant else 'reference'}", *paths]
    with tempfile.TemporaryDirectory(prefix="detection-state-") as state:
        env = {**os.environ, "HARNESS_STATE_DIR": state}
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout_s, cwd=PROJECT_ROOT)
    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    return done.returncode, results


def render(rows: dict[str, dict[str, Cell]], names: dict[str, str], measured: str) -> str:
    """The matrix as Markdown: a row per variant, a column per scenario, the expected catch marked."""
    scenarios = list(names)
    lines = ["| variant | " + " | ".join(f"`{key}`" for key in scenarios) + " | caught as expected |",
             "|---|" + "---|" * (len(scenarios) + 1)]
    for variant, row in rows.items():
        flaw = None if variant == "reference" else Flaw(variant)
        expected = EXPECTED.get(flaw) if flaw else None
        marks = []
        for key in scenarios:
            cell = row.get(key, Cell("not run"))
            text = cell.render()
            marks.append(f"{text} (expected)" if expected and expected.scenario == key else text)
        verdict = "-" if expected is None else ("yes" if _row_caught(row, expected) else "**NO**")
        lines.append(f"| `{variant}` | " + " | ".join(marks) + f" | {verdict} |")
    legend = "\n".join(f"- `{key}`: {name}" for key, name in names.items())
    return f"{measured}\n\n{legend}\n\n" + "\n".join(lines) + "\n"


def _row_caught(row: dict[str, Cell], expected: Catch) -> bool:
    cell = row.get(expected.scenario)
    return cell is not None and cell.outcome == "failed" and (cell.failed or "").startswith(expected.verdict)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.detection", description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="*", default=["reference", *(f.value for f in Flaw)])
    parser.add_argument("--features", nargs="*", default=[str(FEATURES)])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=Path, default=Path(tempfile.gettempdir()) / "detection-runs")
    parser.add_argument("--out", type=Path, default=None, help="write the Markdown table here")
    parser.add_argument("--reuse", action="store_true",
                        help="take a variant's row from RUNS/<variant>/results.json when it exists (resume)")
    args = parser.parse_args(argv)
    rows: dict[str, dict[str, Cell]] = {}
    names: dict[str, str] = {}
    all_results: list[dict[str, Any]] = []
    started = time.monotonic()
    for variant in args.variants:
        flaw = None if variant == "reference" else Flaw(variant)
        previous = args.runs / variant / "results.json"
        if args.reuse and previous.exists():
            code, results = -1, json.loads(previous.read_text())
        else:
            code, results = run_suite(flaw, args.features, args.runs / variant, seed=args.seed)
        rows[variant] = cells(results)
        all_results.append(results)
        for scenario in results.get("scenarios", []):
            names.setdefault(scenario_key(scenario), scenario["name"])
        print(f"{variant}: exit {code}; " + ", ".join(f"{k} {c.outcome}" for k, c in rows[variant].items()),
              flush=True)
    commits = sorted({str(r.get("run", {}).get("git_commit", "?"))[:7] for r in all_results})
    measured = (f"Measured with `python -m bench.detection --seed {args.seed}`"
                f"{' --reuse (rows from earlier runs kept)' if args.reuse else ''} on {os.cpu_count()} CPUs, "
                f"runs at commit(s) {', '.join(commits)}; this invocation took {time.monotonic() - started:.0f} s.")
    table = render(rows, names, measured)
    print(table)
    if args.out is not None:
        descriptions = "\n".join(f"{i}. `{f.value}`: {DESCRIPTIONS[f]}" for i, f in enumerate(Flaw, 1))
        args.out.write_text(_HEADER + descriptions + "\n\n## The matrix\n\n" + table)
    return 0


_HEADER = """# What the suite catches

The bundled features are run against the reference gateway and against ten flawed variants of it,
each with exactly one real resilience mistake (`GATEWAY_VARIANT`, see
`system_under_test/gateway/variants.py`; pick one with `harness run --env gateway:GATEWAY_VARIANT=NAME`).
A cell shows the scenario's outcome and its first failed assertion; "(expected)" marks the scenario
and assertion that `tests/integration/scenarios/test_detection.py` requires to catch the variant
(that test runs only the expected scenario of each variant; this page runs them all).

## The variants

"""


if __name__ == "__main__":
    sys.exit(main())
