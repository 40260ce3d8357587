"""The bench page: the same table as the terminal, self-contained, escaped, written beside bench.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.figures import Figure, Goal, Op, bench_document, not_applicable
from core.errors import ConfigError, UsageError
from reports.bench import render_bench, write_bench_page


def _document() -> dict[str, object]:
    figures = [Figure("fast_fail.llm", "fast fail", "p99 <open>", 12.0, "ms", 5000.0, "timeout",
                      Goal(Op.BELOW, 0.01, text="under 1%")),
               Figure("capacity.locust", "capacity", "Locust", 900.0, "req/s", 400.0, "normal",
                      Goal(Op.AT_LEAST, 3.0, text="3x")),
               not_applicable("recover.kill.llm", "time to recover", "kill llm", "s", "not the reference")]
    return bench_document(figures, {"profile": "quick", "command": "harness bench --quick"})


def test_page_shows_every_figure_with_its_verdict() -> None:
    """Each figure's name, value, ratio and goal verdict appear; n/a rows show their reason."""
    page = render_bench(_document())
    assert "p99 &lt;open&gt;" in page and "12.0 ms" in page and "0.24%" in page
    assert 'class="met-yes"' in page and 'class="met-NO"' in page
    assert "n/a: not the reference" in page
    assert "1 of 2 goals met" in page


def test_page_is_self_contained() -> None:
    """No scripts and no external URLs: the page renders from a CI artifact as it is."""
    page = render_bench(_document())
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert "<style>" in page


def test_write_bench_page_writes_index_html(tmp_path: Path) -> None:
    """The page is written as index.html in the bench's run directory."""
    (tmp_path / "bench.json").write_text(json.dumps(_document()))
    path = write_bench_page(tmp_path)
    assert path == tmp_path / "index.html" and "Locust" in path.read_text()


def test_write_bench_page_refuses_what_is_not_a_bench_file(tmp_path: Path) -> None:
    """A missing or malformed bench.json is a usage error naming the file, not a traceback."""
    with pytest.raises(UsageError, match="bench.json"):
        write_bench_page(tmp_path)
    (tmp_path / "bench.json").write_text("{")
    with pytest.raises(ConfigError, match="bench.json"):
        write_bench_page(tmp_path)
