"""Alert rule files: durations, structure errors with file:line, promtool's errors mapped, run copies."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from core.errors import ConfigError
from monitoring.rules import check_rules, format_duration, load_rules, parse_duration, with_for_override, write_for_run
from monitoring.server import find_binary

GOOD = """groups:
  - name: g
    rules:
      - record: job:up:sum
        expr: sum(up)
      - alert: Down
        expr: up == 0
        for: 1m30s
        labels: {severity: page}
        annotations: {summary: "{{ $labels.job }} down"}
      - alert: Slow
        expr: x > 1
"""


def _write(tmp_path: Path, text: str, name: str = "r.yml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_monitoring_rules_parse_duration_reads_prometheus_units() -> None:
    """Durations combine units like Prometheus's (1m30s, 500ms, 2h, 0) and refuse others."""
    assert parse_duration("1m30s") == 90.0
    assert parse_duration("500ms") == 0.5
    assert parse_duration("2h") == 7200.0
    assert parse_duration("0") == 0.0
    for bad in ("", "5x", "1.5s", "s"):
        with pytest.raises(ValueError):
            parse_duration(bad)
    assert format_duration(1.0) == "1s" and format_duration(0.25) == "250ms"


def test_monitoring_rules_load_alerts_with_lines_and_for(tmp_path: Path) -> None:
    """Alerts keep their name, for: in seconds, labels, annotations and the line of 'alert:'."""
    rules = load_rules([_write(tmp_path, GOOD)])
    assert rules.names() == {"Down", "Slow"}
    down = rules.named("Down")[0]
    assert (down.for_s, down.line, down.labels["severity"]) == (90.0, 6, "page")
    assert rules.named("Slow")[0].for_s == 0.0
    assert rules.longest_for_s() == 90.0


@pytest.mark.parametrize(("text", "line", "words"), [
    ("groups:\n  - name: g\n   rules: []\n  - name: h\n", 3, "not valid YAML"),
    ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        fr: 5s\n", 6, "unknown key 'fr'"),
    ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        for: 5x\n", 6, "not a Prometheus duration"),
    ("groups:\n  - name: g\n    rules:\n      - alert: A\n        for: 5s\n", 4, "missing key 'expr'"),
    ("rules: []\n", 1, "unknown key 'rules'"),
])
def test_monitoring_rules_structure_errors_name_file_and_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    """A malformed rule file is a ConfigError 'file:line: ...' (exit 2) before Prometheus sees it."""
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_rules([path])
    assert str(caught.value).startswith(f"{path.resolve()}:{line}: ")
    assert words in str(caught.value)
    assert caught.value.exit_code == 2


def test_monitoring_rules_promtool_error_keeps_its_line(tmp_path: Path) -> None:
    """A PromQL error found by the real promtool names the file and the line of the expression."""
    path = _write(tmp_path, "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: sum(rate(x[5m]) >\n")
    with pytest.raises(ConfigError) as caught:
        check_rules(load_rules([path]), find_binary(None, "promtool"))
    assert str(caught.value).startswith(f"{path.resolve()}:5: promtool: ")
    assert "parse" in str(caught.value)


def test_monitoring_rules_run_copies_override_for(tmp_path: Path) -> None:
    """The copies Prometheus loads get the override for every alert; the originals stay as written."""
    source = _write(tmp_path, GOOD)
    rules = load_rules([source])
    copies = write_for_run(rules, tmp_path / "out", for_override_s=0.5)
    data = yaml.safe_load(copies[0].read_text())
    fors = [r.get("for") for r in data["groups"][0]["rules"] if "alert" in r]
    assert fors == ["500ms", "500ms"]
    assert source.read_text() == GOOD
    assert {r.for_s for r in with_for_override(rules, 0.5).alerts} == {0.5}
    assert with_for_override(rules, None) is rules
